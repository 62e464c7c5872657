"""The SQLite engine: one file, for one machine. The server, its replicas and `train` commands
share it as SQLite's write-ahead log allows: readers never block the writer, writers take turns
(each waits up to 30 s for the others' transactions, which last milliseconds)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .engine import Db, Engine, StoreError

BUSY_SECONDS = 30


class SqliteDb(Db):
    types = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB"}

    def script(self, sql: str) -> None:
        self.raw.executescript(sql)

    def columns(self, table: str) -> set[str]:
        return {row["name"] for row in self.raw.execute(f"PRAGMA table_info({table})")}

    def lock_schema(self) -> None:
        """Nothing to take: SQLite serialises every write on the file's own lock."""

    def lock_queue(self) -> None:
        # the write lock now, not at the first write: a deferred transaction that read the queue
        # before another process wrote to it could not write at all (SQLITE_BUSY_SNAPSHOT in WAL mode)
        self.raw.execute("BEGIN IMMEDIATE")


class SqliteEngine(Engine):
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where, self.folder = str(self.path), self.path.parent
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_ahead()
        except sqlite3.Error as exc:
            raise self.advice(exc) from None
        except OSError as exc:
            raise StoreError(f"The run history {self.path} cannot be created ({exc.strerror}).") from None

    def _write_ahead(self) -> None:
        """Switch the file to WAL (kept in the file: readers never block the writer). Switching takes
        the file to itself and does not wait on SQLite's busy timeout: replicas opening a new file at
        once met "database is locked" (tests/test_replicas.py), so it is tried again meanwhile."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS)
            try:
                if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                    return
                db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            finally:
                db.close()
            time.sleep(0.05)

    @contextmanager
    def _transaction(self) -> Iterator[Db]:
        raw = sqlite3.connect(self.path, timeout=BUSY_SECONDS)
        raw.row_factory = sqlite3.Row
        raw.execute("PRAGMA foreign_keys=ON")
        try:
            with raw:  # commit on success, roll back on error
                yield SqliteDb(raw)
        finally:
            raw.close()

    def _errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def advice(self, exc: Exception) -> StoreError:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            todo = "make it and its folder writable, or set RESNET_EXPLORER_HOME to a writable folder, then reload"
        elif "not a database" in text or "malformed" in text:
            todo = f"move it aside (mv {self.path} {self.path}.broken) and reload: a new, empty history starts"
        elif "locked" in text:
            todo = "another program holds it locked; close it and reload"
        else:
            todo = "check the file and the disk it is on, then reload"
        return StoreError(f"The run history {self.path} cannot be used ({text}): {todo}.")
