"""Wrong lecturer keys, limited per client: a few a minute, then a wait.

Unlimited, a script tried 25 to 30 keys a second against the sidebar box (issue 22). Five wrong
keys within a minute leave a client waiting until the oldest of them is a minute old: a lecturer's
typo costs nothing, a guesser gets five tries a minute, 7,200 a day, against a key of 16 or more
random characters. Counted per client address (per session on the loopback, where the machine's
own user needs no key anyway), in the server's memory: a restart forgets it. With replicas (the
`replicated` setting), in the store they share instead (StoredKeyTries): a client that drops the
proxy's cookie reaches another replica, but not five more tries.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from ..store import Engine

MAX_WRONG = 5  # wrong keys a client may type ...
WINDOW_SECONDS = 60.0  # ... within this many seconds
SCHEMA = "CREATE TABLE IF NOT EXISTS key_tries (client TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);"


def _wait(times: Sequence[float], now: float) -> float:
    """Seconds until fewer than MAX_WRONG of these wrong keys (oldest first, all within the window) are recent."""
    return WINDOW_SECONDS - (now - times[-MAX_WRONG]) if len(times) >= MAX_WRONG else 0.0


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
            return _wait(self._recent(client, now), now)

    def record_wrong(self, client: str) -> None:
        with self.lock:
            self._recent(client, self.clock()).append(self.clock())


class StoredKeyTries:
    """The same count in the store the replicas share; wall-clock times (every process reads them)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine, self.clock = engine, clock
        with engine.connect() as db:
            db.lock_schema()
            db.script(SCHEMA)

    def wait(self, client: str) -> float:
        now = self.clock()
        with self.engine.connect() as db:
            rows = db.execute(
                "SELECT at FROM key_tries WHERE client=? AND at>? ORDER BY at", (client, now - WINDOW_SECONDS)
            ).fetchall()
        return _wait([row["at"] for row in rows], now)

    def record_wrong(self, client: str) -> None:
        now = self.clock()
        with self.engine.connect() as db:
            db.execute("DELETE FROM key_tries WHERE at<=?", (now - WINDOW_SECONDS,))
            db.execute("INSERT INTO key_tries (client, at) VALUES (?, ?)", (client, now))
