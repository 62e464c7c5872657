"""A throwaway PostgreSQL server for the store tests (Debian's `postgresql` package; CI installs it).

Started once per test process: initdb into a temporary folder, the server listening only on a unix
socket in that folder (no port to collide with), durability off (fsync, synchronous commit: nothing
here needs to survive a crash). Each test gets a schema of its own. Root may not run PostgreSQL, so
as root the server runs as the package's `postgres` user."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "explorer"


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps them out of the PATH), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    pg_ctl = found[-1] if found else shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class Server:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = f"postgresql://{USER}@/postgres?host={folder}"
        self.count = itertools.count(1)

    def add_guest(self) -> None:
        """A user that may log in and nothing more: what a store opened by the wrong user meets."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute("CREATE ROLE guest LOGIN")
            db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # as PostgreSQL 15 has it by default

    def fresh(self) -> str:
        """The URL of an empty schema of its own: a store opened there starts with no tables."""
        import psycopg

        schema = f"test_{os.getpid()}_{next(self.count)}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {schema}")
        return f"{self.url}&options=-csearch_path%3D{schema}"


def serve() -> Iterator[Server]:
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): the store's PostgreSQL tests need it")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="pg"))  # short: a unix socket's path has at most 107 bytes
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data = folder / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
        options = f"-k {folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start")
        server = Server(folder)
        server.add_guest()
        yield server
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr or exc.stdout}") from None
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
