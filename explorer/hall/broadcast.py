"""What the lecturer shows, for the students who follow along: the lecturer's design and page,
published on each change and read by every follower's session.

One object per server process, shared by its sessions (threads): each publication is an immutable
Lecture, swapped in under a lock, so a reader always gets a whole one and never a mix of two. A
follower may leave a wake-up call: each new Lecture calls every one at once, so a follower need not
wait for its next poll (issue 23: a poll each second showed a change after 1.5-2.7 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..arch.spec import ResNetSpec, spec_from_json


@dataclass(frozen=True)
class Lecture:
    """One state of the lecturer's screen; `version` grows by one with every change."""

    version: int
    spec_json: str
    base: str  # the preset the design started from
    page: str  # the page's url path: "" (Design), "train", "compare", "why-residuals"
    published: float  # time.time()
    run: int | None = None  # the run the lecturer's Train page shows: followers watch it, read-only

    @property
    def spec(self) -> ResNetSpec:
        return spec_from_json(self.spec_json)


class Broadcast:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Lecture | None = None
        self._wakes: dict[str, Callable[[], bool]] = {}

    def subscribe(self, follower: str, wake: Callable[[], bool]) -> None:
        """Call `wake` after each new Lecture; it returns False once its follower is gone (then it is dropped)."""
        with self._lock:
            self._wakes[follower] = wake

    def unsubscribe(self, follower: str) -> None:
        with self._lock:
            self._wakes.pop(follower, None)

    def _wake_all(self) -> None:
        with self._lock:
            wakes = list(self._wakes.items())
        gone = [follower for follower, wake in wakes if not wake()]  # outside the lock: a wake may read latest()
        for follower in gone:
            self.unsubscribe(follower)

    def publish(self, spec: ResNetSpec, base: str, page: str, run: int | None = None) -> Lecture:
        """The lecturer's current design, page and run; a new version only when something changed."""
        spec_json = spec.to_json(indent=None)
        with self._lock:
            latest = self._latest
            if latest is not None and (latest.spec_json, latest.base, latest.page, latest.run) == (
                spec_json,
                base,
                page,
                run,
            ):
                return latest
            version = (latest.version if latest else 0) + 1
            self._latest = lecture = Lecture(version, spec_json, base, page, time.time(), run)
        self._wake_all()
        return lecture

    def latest(self) -> Lecture | None:
        """What the lecturer shows now; None before the lecturer's first page."""
        with self._lock:
            return self._latest
