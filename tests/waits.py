"""Waiting in tests: one bound for everything that settles, and one polling loop."""

import time
from collections.abc import Callable

# How long a test waits for a run (or a server) to settle: a bound, not a duration (a run that ends returns
# at once). Generous, because a machine busy with other work slows every run several times over.
SETTLE_SECONDS = 300


def wait_until(condition: Callable[[], object], timeout: float = SETTLE_SECONDS, poll: float = 0.05) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; its last answer, as a bool."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(poll)
    return True
