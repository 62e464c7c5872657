"""What both engines share: the error the app and the CLI show, the connection the stores write
through, and the SQL helpers written once for both dialects.

The stores' SQL is written once, with `?` placeholders and the two column types the dialects name
differently as `{id}` and `{blob}` in their schemas; each engine's module (sqlite.py, postgres.py)
says how its dialect spells them, how it opens a connection, lists a table's columns, and what its
errors mean. Both dialects agree on the rest: `INSERT ... RETURNING` (SQLite 3.35, 2021),
`INSERT ... ON CONFLICT ... DO UPDATE` (SQLite 3.24, 2018), DOUBLE PRECISION and BIGINT columns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any


class StoreError(Exception):
    """The store cannot be opened or written: the message names it and what to do."""


class Db(ABC):
    """One connection inside one transaction: rows are read by column name (`row["id"]`, `dict(row)`)."""

    placeholder = "?"
    types: dict[str, str]  # the schemas' {id} and {blob} in this dialect

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def _sql(self, sql: str) -> str:
        # the stores' SQL has no `?` or `%` of its own (no literals with them): only placeholders
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The cursor: fetchone(), fetchall(), or iterate it."""
        return self.raw.execute(self._sql(sql), args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.raw.cursor().executemany(self._sql(sql), list(rows))

    @abstractmethod
    def script(self, sql: str) -> None:
        """Several statements without parameters (a schema)."""

    @abstractmethod
    def columns(self, table: str) -> set[str]:
        """The columns `table` has now (none if it does not exist)."""

    @abstractmethod
    def lock_schema(self) -> None:
        """Hold off other processes creating or upgrading the tables until this transaction ends."""

    @abstractmethod
    def lock_queue(self) -> None:
        """Hold off other processes' submissions until this transaction ends (call it first): a quota
        counted here is still true when this transaction's runs are added (explorer/training/run_queue.py)."""


class Engine(ABC):
    """A database the stores keep their tables in; `connect()` gives a Db in a transaction."""

    where: str  # what messages name: the file, or the URL without its password
    folder: Path  # the data folder beside it: the weights (checkpoints/) and the processes' boot ids

    @contextmanager
    def connect(self) -> Iterator[Db]:
        """A transaction: committed when the block ends, rolled back if it raises; the engine's own
        errors come out as StoreError, saying what to do."""
        try:
            with self._transaction() as db:
                yield db
        except self._errors() as exc:
            raise self.advice(exc) from None

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Db]: ...

    @abstractmethod
    def _errors(self) -> tuple[type[Exception], ...]: ...

    @abstractmethod
    def advice(self, exc: Exception) -> StoreError:
        """The engine's error as one sentence: what failed, where, and what to do."""


def add_columns(db: Db, table: str, columns: dict[str, str]) -> list[str]:
    """Add the columns a table written by an earlier version lacks; returns those added."""
    have = db.columns(table)
    added = [name for name in columns if name not in have]
    for name in added:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {columns[name]}")
    return added


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT of one row that replaces the row with the same `key` (a step or an epoch recorded again)."""
    updates = ", ".join(f"{c}=excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )
