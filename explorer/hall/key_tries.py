"""Wrong lecturer keys, limited per client: a few a minute, then a wait.

Unlimited, a script tried 25 to 30 keys a second against the sidebar box (issue 22). Five wrong
keys within a minute leave a client waiting until the oldest of them is a minute old: a lecturer's
typo costs nothing, a guesser gets five tries a minute, 7,200 a day, against a key of 16 or more
random characters. Counted per client address (per session on the loopback, where the machine's
own user needs no key anyway), in the server's memory: a restart forgets it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_WRONG = 5  # wrong keys a client may type ...
WINDOW_SECONDS = 60.0  # ... within this many seconds


class KeyTries:
    """Wrong keys per client over the last minute (one lock: sessions share the object)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.wrong: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self.wrong.setdefault(client, deque())
        while times and now - times[0] >= WINDOW_SECONDS:
            times.popleft()
        return times

    def wait(self, client: str) -> float:
        """Seconds before this client may try a key again (0: now)."""
        with self.lock:
            now = self.clock()
            times = self._recent(client, now)
            return WINDOW_SECONDS - (now - times[0]) if len(times) >= MAX_WRONG else 0.0

    def record_wrong(self, client: str) -> None:
        with self.lock:
            self._recent(client, self.clock()).append(self.clock())
