"""Where the run history and the class challenge keep their tables: one interface, two engines.

- SQLite, the default: `runs.sqlite` in the data folder, for one machine. Its processes (app
  servers, `train` commands) share the file as SQLite's write-ahead log allows.
- PostgreSQL: a server that several machines reach, named by the `store_url` setting
  (postgresql://user@host/database).

The stores (training/runs.py, hall/challenge.py) write their SQL once (engine.py); what the
dialects do differently is each engine's module.
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..hall.settings import how_to_set, load_settings
from .engine import Db, Engine, StoreError, add_columns, upsert
from .sqlite import SqliteEngine

__all__ = ["Db", "Engine", "StoreError", "add_columns", "open_engine", "upsert"]
POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_engine(location: str | Path | None = None, setting: str | None = None) -> Engine:
    """The store at `location`: a SQLite file's path, postgresql://user@host/database, or
    sqlite:///path; "" is the data folder's runs.sqlite; None reads the store_url setting.
    `setting` is what a message tells the user to correct (default: the store_url setting)."""
    if location is None:
        location = load_settings().store_url
    setting = setting or how_to_set("store_url")
    text = str(location).strip()
    scheme, sep, rest = text.partition("://")
    if not text:
        return SqliteEngine(paths.runs_db())
    if not sep or scheme == "sqlite":
        return SqliteEngine(Path(rest if sep else text))
    if scheme in POSTGRES_SCHEMES:
        from .postgres import PostgresEngine  # psycopg is imported only where PostgreSQL is used

        return PostgresEngine(text, setting)
    raise StoreError(
        f"{setting}: {scheme}:// is not a store this app knows; give postgresql://user@host/database for "
        "PostgreSQL, or leave it empty for the SQLite file in the data folder."
    )
