"""One admission control for the heavy work the server does in its own process.

Per-request budgets do not bound N students at once: four students on resnet152 at 3x448x448,
each within every budget, pressed look-inside, ONNX export and torchinfo together and took the
server from 1.0 to 3.1 GB, with 10 of 12 actions failing on "can't allocate memory" (issue 22).
So every such computation (look inside on a sample, ONNX export, torchinfo, Try it, opening a
checkpoint) first asks here: it runs when fewer than `slots` computations run and the estimated
bytes of those running and its own fit `memory_bytes`; otherwise it waits its turn, first come
first served, and the page says how many are ahead instead of failing.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .. import fmt
from .budget import BudgetError


class Admission:
    """A process-wide memory and concurrency budget (a semaphore that counts estimated bytes)."""

    def __init__(self, memory_bytes: int, slots: int) -> None:
        self.memory_bytes, self.slots = memory_bytes, slots
        self.used = self.running = 0
        self.queue: deque[int] = deque()  # tickets waiting, first come first served
        self.tickets = itertools.count()
        self.cond = threading.Condition()

    def _fits(self, ticket: int, nbytes: int) -> bool:
        return (
            self.queue[0] == ticket and self.running < self.slots and self.used + nbytes <= self.memory_bytes
        )  # fmt: skip

    @contextmanager
    def admit(self, nbytes: int, on_wait: Callable[[int], None] | None = None, poll: float = 0.25) -> Iterator[None]:
        """Hold `nbytes` of the budget and a slot while the body runs. `on_wait(n)` is told how many
        computations are running or ahead in the queue, each time that number changes."""
        if nbytes > self.memory_bytes:
            raise BudgetError(
                "server_memory_gib",
                f"this needs about {fmt.nbytes(nbytes)}; the server's budget for such work is "
                f"{fmt.nbytes(self.memory_bytes)} in all",
            )
        with self.cond:
            ticket = next(self.tickets)
            self.queue.append(ticket)
            told = None
            try:
                while not self._fits(ticket, nbytes):
                    ahead = self.running + self.queue.index(ticket)
                    if on_wait is not None and ahead != told:
                        on_wait(ahead)
                        told = ahead
                    self.cond.wait(poll)
            finally:
                self.queue.remove(ticket)
                self.cond.notify_all()  # the next in line may fit now (or after a timeout, may look again)
            self.used += nbytes
            self.running += 1
        try:
            yield
        finally:
            with self.cond:
                self.used -= nbytes
                self.running -= 1
                self.cond.notify_all()

    def waiting(self) -> int:
        with self.cond:
            return len(self.queue)
