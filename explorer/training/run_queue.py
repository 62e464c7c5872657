"""The queue kept in the store, for a server of several processes behind one proxy (the `replicated`
setting, `resnet-explorer serve --replicas N`).

The runs table is the queue: status 'queued', in the order of the runs' ids. So every replica
counts the same quotas (under a lock no other submission passes), shows the same positions, and
reads a run's live state from the rows its steps and epochs are written to anyway. Exactly one
process per data folder feeds the machine's workers (FeederLock): N pools would oversubscribe the
cores. It claims each queued run as a worker takes it (one UPDATE: a stop asked meanwhile on another
replica wins or loses as a whole), and reads the stop requests the others leave in the run's row.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import liveness
from .estimate import Speed
from .events import StartEvent
from .job import ACTIVE, JobSnapshot
from .runs import RunStore

# How often the feeding process looks for runs queued on other replicas and for stop requests: a
# run queued elsewhere starts, and a Stop pressed elsewhere arrives, within this (plus a step).
INTAKE_SECONDS = 0.2
STOPPED_QUEUED = "stopped before it started"


@dataclass(frozen=True)
class Held:
    """A run queued or running on any replica: what the quotas and the positions read."""

    id: int
    owner: str | None
    address: str | None
    queue: str | None
    status: str


@dataclass(frozen=True)
class NewRun:
    name: str
    spec_json: str
    recipe_json: str
    queue: str  # the device kind it waits for
    experiment: str | None = None
    owner: str | None = None
    address: str | None = None
    key: str | None = None


class FeederLock:
    """Whether this process feeds the machine's workers: an exclusive lock on processes/feeder.lock
    in the data folder while it lives. The kernel drops it however the process ends (kill -9
    included, as liveness.py's locks), and the next replica to try takes over."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "processes" / "feeder.lock"
        self.fd: int | None = None

    def take(self) -> bool:
        """True if this process holds the lock now (taken now or before)."""
        if self.fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class StoreQueue:
    """The queue's reads and writes in the store; the registry (jobs.py) decides when."""

    def __init__(self, store: RunStore) -> None:
        self.store, self.engine = store, store.engine

    def submit(self, runs: Sequence[NewRun], check: Callable[[list[Held]], None]) -> list[int]:
        """Queue the runs, all or none: `check` sees every replica's queued and running runs first
        (it raises to refuse), and no other submission counts them until these are in."""
        with self.engine.connect() as db:
            db.lock_queue()
            check(self._held(db))
            return [
                self.store.create(
                    r.name, r.spec_json, r.recipe_json, r.experiment, "queued", r.owner, r.key, r.queue, r.address, db
                )  # fmt: skip
                for r in runs
            ]

    def held(self) -> list[Held]:
        with self.engine.connect() as db:
            return self._held(db)

    def _held(self, db: Any) -> list[Held]:
        rows = db.execute(
            "SELECT id, owner, address, queue, status FROM runs WHERE status IN ('queued', 'running') ORDER BY id"
        ).fetchall()
        return [Held(**dict(row)) for row in rows]

    def queued(self, after: int) -> list[dict[str, Any]]:
        """Runs queued since run `after`, oldest first: what the feeding process takes in."""
        with self.engine.connect() as db:
            rows = db.execute(
                "SELECT id, name, experiment, spec_json, recipe_json, owner, address, queue FROM runs"
                " WHERE status='queued' AND id>? ORDER BY id",
                (after,),
            ).fetchall()
        return [dict(row) for row in rows]

    def claim(self, run_id: int) -> bool:
        """Take a queued run for a worker of this process; False if it was stopped or deleted meanwhile.
        The run is this process's from now on: if it dies, the run is marked interrupted."""
        with self.engine.connect() as db:
            cur = db.execute(
                "UPDATE runs SET status='running', host=?, pid=?, boot_id=? WHERE id=? AND status='queued'",
                (socket.gethostname(), os.getpid(), liveness.my_id(self.engine.folder), run_id),
            )
            return cur.rowcount == 1

    def stop(self, run_id: int) -> None:
        """A queued run ends stopped at once; a running one is asked to stop (its feeder reads it)."""
        with self.engine.connect() as db:
            cur = db.execute(
                "UPDATE runs SET status='stopped', message=?, finished=? WHERE id=? AND status='queued'",
                (STOPPED_QUEUED, time.time(), run_id),
            )
            if cur.rowcount == 0:
                db.execute("UPDATE runs SET stop_requested=1 WHERE id=? AND status='running'", (run_id,))

    def stop_requests(self) -> list[int]:
        """Running runs someone asked to stop."""
        with self.engine.connect() as db:
            rows = db.execute("SELECT id FROM runs WHERE stop_requested=1 AND status='running'").fetchall()
        return [row["id"] for row in rows]

    # ----- what a run's page shows, on any replica ------------------------------------------------
    def snapshot(self, run_id: int, whole: bool = True) -> JobSnapshot | None:
        """The run as its rows have it now; `whole`: every step (the curves), else the last (a status line)."""
        with self.engine.connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return None
            position = 0
            if row["status"] == "queued":
                position = db.execute(
                    "SELECT COUNT(*) AS n FROM runs WHERE status='queued' AND queue=? AND id<=?",
                    (row["queue"], run_id),
                ).fetchone()["n"]
            last = None if whole else db.execute("SELECT * FROM steps WHERE run_id=? ORDER BY step DESC LIMIT 1",
                                                 (run_id,)).fetchone()  # fmt: skip
        steps = self.store.steps(run_id) if whole else [{**dict(last), "stages": []}] if last else []
        if steps:  # the status line reads how far the latest step is (the rows keep no progress of their own)
            steps[-1]["progress"] = row["progress"] or 0.0
        status = row["status"]
        start = json.loads(row["start_json"]) if row["start_json"] else None
        return JobSnapshot(
            row["id"],
            row["name"],
            row["experiment"],
            row["queue"] or row["device"] or "",
            row["owner"],
            status,
            position,
            row["message"],
            1.0 if status == "completed" else row["progress"] or 0.0,
            row["elapsed"],
            row["eta"] if status in ACTIVE else 0.0,
            StartEvent(**start) if start else None,
            steps,
            self.store.epochs(run_id),
        )

    def active(self, owner: str | None = None) -> list[JobSnapshot]:
        """Queued and running runs of every replica, all of them or one owner's, each with its last step."""
        held = [h for h in self.held() if owner in (None, h.owner)]
        return [snap for h in held if (snap := self.snapshot(h.id, whole=False)) is not None]

    # ----- the device's measured speed, for the replicas' estimates --------------------------------
    def _speed_file(self, device: str) -> Path:
        return self.engine.folder / "processes" / f"speed-{device}.json"

    def share_speed(self, device: str, speed: Speed) -> None:
        """The feeding process's measurement of its device, for the other replicas' time estimates
        (a student's run is capped by its estimated minutes: max_run_minutes)."""
        path = self._speed_file(device)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(asdict(speed)))
        os.replace(partial, path)  # never half a file

    def speed(self, device: str) -> Speed | None:
        """The device's speed as the feeding process measured it; None before it has."""
        try:
            return Speed(**json.loads(self._speed_file(device).read_text()))
        except (OSError, ValueError, TypeError):
            return None
