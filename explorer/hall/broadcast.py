"""What the lecturer shows, for the students who follow along: the lecturer's design and page,
published on each change and read by every follower's session.

One object per server process, shared by its sessions (threads): each publication is an immutable
Lecture, swapped in under a lock, so a reader always gets a whole one and never a mix of two.
"""

from __future__ import annotations

import threading
import time
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

    @property
    def spec(self) -> ResNetSpec:
        return spec_from_json(self.spec_json)


class Broadcast:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Lecture | None = None

    def publish(self, spec: ResNetSpec, base: str, page: str) -> Lecture:
        """The lecturer's current design and page; a new version only when something changed."""
        spec_json = spec.to_json(indent=None)
        with self._lock:
            latest = self._latest
            if latest is not None and (latest.spec_json, latest.base, latest.page) == (spec_json, base, page):
                return latest
            self._latest = Lecture((latest.version if latest else 0) + 1, spec_json, base, page, time.time())
            return self._latest

    def latest(self) -> Lecture | None:
        """What the lecturer shows now; None before the lecturer's first page."""
        with self._lock:
            return self._latest
