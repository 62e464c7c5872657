"""What the lecturer shows, for the students who follow along: the lecturer's design and page,
published on each change and read by every follower's session.

One object per server process, shared by its sessions (threads): each publication is an immutable
Lecture, swapped in under a lock, so a reader always gets a whole one and never a mix of two. A
follower may leave a wake-up call: each new Lecture calls every one at once, so a follower need not
wait for its next poll (issue 23: a poll each second showed a change after 1.5-2.7 s).

With replicas (the `replicated` setting) the lecturer and a follower may sit on different processes:
the Lecture is then a row in the store they share (LectureTable), and one thread per process reads
its version every WATCH_SECONDS (a primary-key read) and wakes that process's followers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..arch.spec import ResNetSpec, spec_from_json
from ..store import Engine, StoreError

# A follower on another replica sees a change within this plus its rerun (issue 23 asks for 1 s):
# each look is one primary-key read, 7 a second per process.
WATCH_SECONDS = 0.15
SCHEMA = """
CREATE TABLE IF NOT EXISTS lecture (
    id INTEGER PRIMARY KEY,          -- always 1: one lecturer's screen per store
    version BIGINT NOT NULL,
    spec_json TEXT NOT NULL,
    base TEXT NOT NULL,
    page TEXT NOT NULL,
    run BIGINT,
    published DOUBLE PRECISION NOT NULL
);
"""
FIELDS = ("version", "spec_json", "base", "page", "published", "run")
log = logging.getLogger(__name__)


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


class LectureTable:
    """The lecturer's latest Lecture as one row of the store the replicas share."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.connect() as db:
            db.lock_schema()
            db.script(SCHEMA.format(**db.types))

    def publish(self, spec_json: str, base: str, page: str, run: int | None) -> Lecture:
        """Write a new Lecture, its version one more than the row's (atomic: one statement)."""
        with self.engine.connect() as db:
            row = db.execute(
                "INSERT INTO lecture (id, version, spec_json, base, page, run, published) VALUES (1, 1, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET version=lecture.version + 1, spec_json=excluded.spec_json,"
                " base=excluded.base, page=excluded.page, run=excluded.run, published=excluded.published"
                f" RETURNING {', '.join(FIELDS)}",
                (spec_json, base, page, run, time.time()),
            ).fetchone()
        return Lecture(**dict(row))

    def latest(self) -> Lecture | None:
        with self.engine.connect() as db:
            row = db.execute(f"SELECT {', '.join(FIELDS)} FROM lecture WHERE id=1").fetchone()
        return Lecture(**dict(row)) if row else None


class Broadcast:
    def __init__(self, table: LectureTable | None = None) -> None:
        """In this process's memory alone, or through `table` for replicas (then watched by a thread)."""
        self._lock = threading.Lock()
        self._table = table
        self._latest: Lecture | None = table.latest() if table else None
        self._wakes: dict[str, Callable[[], bool]] = {}
        self._closed = threading.Event()
        if table is not None:
            threading.Thread(target=self._watch, name="explorer-lecture-watch", daemon=True).start()

    def close(self) -> None:
        self._closed.set()

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
            if self._table is None:
                version = (latest.version if latest else 0) + 1
                self._latest = lecture = Lecture(version, spec_json, base, page, time.time(), run)
        if self._table is not None:
            return self._take(self._table.publish(spec_json, base, page, run))
        self._wake_all()
        return lecture

    def _take(self, lecture: Lecture) -> Lecture:
        """A Lecture read from the table: the latest from now on, unless a newer one is known already."""
        with self._lock:
            if self._latest is not None and self._latest.version >= lecture.version:
                return self._latest
            self._latest = lecture
        self._wake_all()
        return lecture

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_SECONDS):
            try:
                lecture = self._table.latest()
            except StoreError as exc:  # the store is away a moment: followers keep the last one meanwhile
                log.warning("the lecture could not be read: %s", exc)
                continue
            if lecture is not None:
                self._take(lecture)

    def latest(self) -> Lecture | None:
        """What the lecturer shows now; None before the lecturer's first page."""
        with self._lock:
            return self._latest
