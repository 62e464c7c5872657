"""The run history: every training run, its metrics and results, in the store (explorer/store/):
`runs.sqlite` in the data folder (explorer/paths.py) by default, or a PostgreSQL server that several
machines share (the store_url setting), read by the app and the CLI alike.

Each call takes its own connection, so worker threads and processes never share one.
A run whose process died (server killed mid-run) is marked `interrupted` at the next start: each
run records its process's boot id (explorer/training/liveness.py). Weights are files on this
machine's disk, not rows: written to a temporary file and renamed, and kept under a disk budget (the
oldest finished runs' weights go first).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .. import fmt
from ..hall.settings import how_to_set
from ..store import Db, StoreError, add_columns, open_engine, upsert
from . import liveness
from .events import EpochEvent, Event, StartEvent, StepEvent
from .run_record import ADDED_COLUMNS, EPOCH_FIELDS, FINAL, SCHEMA, STAGE_FIELDS, RunRecord, record_of
from .train import RunResult

__all__ = ["RunRecord", "RunStore", "StoreError", "key_hash", "save_weights"]
STEP = upsert("steps", ("run_id", "step", "epoch", "loss", "images_per_sec", "elapsed"), ("run_id", "step"))
STAGE_STEP = upsert("stage_steps", ("run_id", "step", "position", *STAGE_FIELDS), ("run_id", "step", "stage"))
EPOCH = upsert("epochs", ("run_id", "epoch", *EPOCH_FIELDS), ("run_id", "epoch"))
MISCLASSIFIED = upsert(
    "misclassified",
    ("run_id", "position", "test_index", "true_label", "predicted", "shape", "pixels"),
    ("run_id", "position"),
)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def save_weights(folder: Path, run_id: int, state_dict: dict[str, torch.Tensor], budget: int | None) -> str:
    """Save a run's weights into `folder` (to a temporary file, then renamed: never half a file under
    the run's name); returns the file. StoreError if they alone exceed the disk budget."""
    size = sum(t.numel() * t.element_size() for t in state_dict.values())
    if budget is not None and size > budget:
        raise StoreError(
            f"weights not kept: {fmt.nbytes(size)} is more than the checkpoints' disk budget of "
            f"{fmt.nbytes(budget)} (raise {how_to_set('checkpoint_disk_gib')})"
        )
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"run-{run_id}.pt"
    partial = folder / f".run-{run_id}.pt.{os.getpid()}.partial"
    try:
        torch.save(state_dict, partial)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return str(final)


def _process_alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True  # another machine's run: not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    def __init__(self, location: str | Path | None = None, setting: str | None = None) -> None:
        """The history at `location` (a SQLite file, or a postgresql:// URL); None: the store_url
        setting, else the data folder's runs.sqlite. StoreError, saying what to do, if it cannot be used."""
        self.engine = open_engine(location, setting)
        self.where = self.engine.where
        self.checkpoints = self.engine.folder / "checkpoints"
        with self.engine.connect() as db:
            db.lock_schema()
            db.script(SCHEMA.format(**db.types))
            for table, columns in ADDED_COLUMNS.items():  # a history written by an earlier version
                if "position" in add_columns(db, table, columns) and table == "stage_steps":
                    # only a SQLite history predates it: its rowid is the order the stages were written in
                    db.execute("UPDATE stage_steps SET position = rowid")

    # ----- writing ---------------------------------------------------------------------------
    def create(
        self,
        name: str,
        spec_json: str,
        recipe_json: str,
        experiment: str | None = None,
        status: str = "queued",
        owner: str | None = None,
        key: str | None = None,
        queue: str | None = None,
        address: str | None = None,
        db: Db | None = None,
    ) -> int:
        """A new run; `key` (kept as its hash) is what stopping, deleting or retraining it takes;
        `queue` the device kind it waits for. Inside `db`'s transaction where one is given."""
        if db is None:
            with self.engine.connect() as own:
                return self.create(name, spec_json, recipe_json, experiment, status, owner, key, queue, address, own)
        cur = db.execute(
            "INSERT INTO runs (name, experiment, spec_json, recipe_json, status, created, host, pid, boot_id,"
            " owner, key_hash, queue, address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                name,
                experiment,
                spec_json,
                recipe_json,
                status,
                time.time(),
                socket.gethostname(),
                os.getpid(),
                liveness.my_id(self.engine.folder),
                owner,
                key_hash(key) if key else None,
                queue,
                address,
            ),
        )
        return int(cur.fetchone()["id"])

    def record_event(self, run_id: int, event: Event) -> None:
        """Store what a training event says (start, step, epoch); the end goes through finish()."""
        with self.engine.connect() as db:
            if isinstance(event, StartEvent):
                db.execute(
                    "UPDATE runs SET status='running', started=?, device=?, params=?, spec_json=?, normalize_json=?,"
                    " start_json=? WHERE id=?",
                    (
                        time.time(),
                        event.device,
                        event.params,
                        json.dumps(event.spec),
                        json.dumps(event.normalize),
                        json.dumps(dataclasses.asdict(event)),
                        run_id,
                    ),
                )
            elif isinstance(event, StepEvent):
                db.execute(STEP, (run_id, event.step, event.epoch, event.loss, event.images_per_sec, event.elapsed))
                # where it stands, for the run's page on a replica that does not train it (run_queue.py)
                db.execute(
                    "UPDATE runs SET progress=?, elapsed=?, eta=? WHERE id=?",
                    (event.progress, event.elapsed, event.eta, run_id),
                )
                db.executemany(
                    STAGE_STEP,
                    [
                        (run_id, event.step, position, *(getattr(stats, f) for f in STAGE_FIELDS))
                        for position, stats in enumerate(event.stages)
                    ],
                )
            elif isinstance(event, EpochEvent):
                db.execute(EPOCH, (run_id, event.epoch, *(getattr(event, f) for f in EPOCH_FIELDS)))
                db.execute(
                    "UPDATE runs SET test_acc=?, elapsed=?, eta=? WHERE id=?",
                    (event.test_acc, event.elapsed, event.eta, run_id),
                )

    def finish(self, run_id: int, result: RunResult, checkpoint_budget: int | None = None) -> None:
        """Store a RunResult: status, message, confusion matrix, misclassified images and weights
        (written now from its state_dict, or already written to result.checkpoint by a worker)."""
        checkpoint, status, message = result.checkpoint, result.status, result.message
        if result.state_dict is not None:
            try:
                checkpoint = save_weights(self.checkpoints, run_id, result.state_dict, checkpoint_budget)
            except StoreError as exc:
                message = f"{message}; {exc}"
        with self.engine.connect() as db:
            db.execute(
                "UPDATE runs SET status=?, message=?, finished=?, confusion_json=?, checkpoint=? WHERE id=?",
                (
                    status,
                    message,
                    time.time(),
                    json.dumps(result.confusion) if result.confusion else None,
                    checkpoint,
                    run_id,
                ),
            )
            for position, item in enumerate(result.misclassified):
                image = item["image"]
                db.execute(
                    MISCLASSIFIED,
                    (
                        run_id,
                        position,
                        item["index"],
                        item["true"],
                        item["pred"],
                        json.dumps(list(image.shape)),
                        image.numpy().tobytes(),
                    ),
                )
        if checkpoint_budget is not None:
            self.prune_checkpoints(checkpoint_budget)

    def prune_checkpoints(self, budget: int) -> list[int]:
        """Remove the oldest finished runs' weights until all of them fit `budget` bytes; the
        history then says "weights removed". Returns the runs whose weights went."""
        with self.engine.connect() as db:
            rows = db.execute(
                "SELECT id, checkpoint FROM runs WHERE checkpoint IS NOT NULL ORDER BY finished DESC, id DESC"
            ).fetchall()
        total, removed = 0, []
        for row in rows:  # newest first: they are kept while they fit
            path = Path(row["checkpoint"])
            if not path.exists():
                continue  # another machine's weights, where each keeps its own (docs/store.md): not this disk's
            total += path.stat().st_size
            if total > budget:
                path.unlink(missing_ok=True)
                removed.append(row["id"])
        if removed:
            with self.engine.connect() as db:
                db.executemany("UPDATE runs SET checkpoint=NULL, weights_removed=1 WHERE id=?", [(i,) for i in removed])
        return removed

    def set_status(self, run_id: int, status: str, message: str = "") -> None:
        with self.engine.connect() as db:
            finished = time.time() if status in FINAL else None
            db.execute(
                "UPDATE runs SET status=?, message=?, finished=? WHERE id=?", (status, message, finished, run_id)
            )

    def mark_interrupted(self) -> int:
        """Runs left 'running' or 'queued' by a process that no longer exists: a server or a `train`
        command was killed. Their metrics so far stay; only the status changes. Returns how many."""
        with self.engine.connect() as db:
            rows = db.execute("SELECT id, host, pid, boot_id FROM runs WHERE status IN ('running', 'queued')")
            dead = [row["id"] for row in rows.fetchall() if not self._alive(row)]
            for run_id in dead:
                db.execute(
                    "UPDATE runs SET status='interrupted', message='the process running it ended', finished=?"
                    " WHERE id=?",
                    (time.time(), run_id),
                )
        return len(dead)

    def _alive(self, row: Mapping[str, Any]) -> bool:
        if row["host"] != socket.gethostname():
            return True  # another machine's run: not ours to judge
        if row["boot_id"]:
            return liveness.is_alive(self.engine.folder, row["boot_id"])
        return _process_alive(row["host"], row["pid"])  # recorded before boot ids

    def delete(self, run_id: int) -> None:
        run = self.get(run_id)
        with self.engine.connect() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        if run and run.checkpoint:
            Path(run.checkpoint).unlink(missing_ok=True)

    # ----- reading ---------------------------------------------------------------------------
    def get(self, run_id: int) -> RunRecord | None:
        with self.engine.connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return record_of(row) if row else None

    def list(self, limit: int = 200, experiment: str | None = None) -> list[RunRecord]:
        query, args = "SELECT * FROM runs", []
        if experiment is not None:
            query, args = query + " WHERE experiment=?", [experiment]
        with self.engine.connect() as db:
            rows = db.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [record_of(row) for row in rows]

    def experiments(self, prefix: str = "") -> list[str]:
        """Experiment names (newest first) that start with `prefix`."""
        with self.engine.connect() as db:
            rows = db.execute(
                "SELECT experiment, MAX(id) AS last FROM runs WHERE experiment IS NOT NULL"
                " GROUP BY experiment ORDER BY last DESC"
            ).fetchall()
        return [row["experiment"] for row in rows if row["experiment"].startswith(prefix)]

    def epochs(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as db:
            rows = db.execute("SELECT * FROM epochs WHERE run_id=? ORDER BY epoch", (run_id,)).fetchall()
        return [dict(row) for row in rows]

    def epochs_csv(self, run_ids: list[int]) -> str:
        """Every epoch of the given runs as CSV, one row each with the run's id and name: for a report."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["run", "name", "epoch", *EPOCH_FIELDS])
        for run_id in run_ids:
            name = run.name if (run := self.get(run_id)) else ""
            for row in self.epochs(run_id):
                writer.writerow([run_id, name, row["epoch"], *(row[f] for f in EPOCH_FIELDS)])
        return out.getvalue()

    def steps(self, run_id: int) -> list[dict[str, Any]]:
        """The sampled steps, each with its per-stage numbers under "stages" (as a StepEvent's dict)."""
        with self.engine.connect() as db:
            rows = db.execute("SELECT * FROM steps WHERE run_id=? ORDER BY step", (run_id,)).fetchall()
            stats = db.execute(
                f"SELECT step, {', '.join(STAGE_FIELDS)} FROM stage_steps WHERE run_id=? ORDER BY step, position",
                (run_id,),
            ).fetchall()
        stages: dict[int, list[dict[str, Any]]] = {}
        for row in stats:
            stages.setdefault(row["step"], []).append({f: row[f] for f in STAGE_FIELDS})
        return [{**dict(row), "stages": stages.get(row["step"], [])} for row in rows]

    def misclassified(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as db:
            rows = db.execute("SELECT * FROM misclassified WHERE run_id=? ORDER BY position", (run_id,)).fetchall()
        out = []
        for row in rows:
            shape = json.loads(row["shape"])
            image = torch.frombuffer(bytearray(row["pixels"]), dtype=torch.uint8).reshape(shape)
            out.append(
                {"index": row["test_index"], "true": row["true_label"], "pred": row["predicted"], "image": image}
            )
        return out
