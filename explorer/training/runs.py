"""The run history: every training run, its metrics and results, in SQLite (stdlib, WAL).

One file, `runs.sqlite` in the data folder (explorer/paths.py), shared by the app and the CLI.
Each call opens its own connection, so worker threads and processes never share one.
A run whose process died (server killed mid-run) is marked `interrupted` at the next start: each
run records its process's boot id (explorer/training/liveness.py). Weights are written to a temporary file
and renamed, and kept under a disk budget: the oldest finished runs' weights go first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from .. import fmt, paths
from ..hall.settings import how_to_set
from . import liveness
from .events import EpochEvent, Event, StartEvent, StepEvent
from .run_record import ADDED_COLUMNS, EPOCH_FIELDS, FINAL, SCHEMA, STAGE_FIELDS, RunRecord, record_of
from .train import RunResult


class StoreError(Exception):
    """The run history cannot be opened or written: the message names the file and what to do."""


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _advice(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        todo = "make it and its folder writable, or set RESNET_EXPLORER_HOME to a writable folder, then reload"
    elif "not a database" in text or "malformed" in text:
        todo = f"move it aside (mv {path} {path}.broken) and reload: a new, empty history starts"
    elif "locked" in text:
        todo = "another program holds it locked; close it and reload"
    else:
        todo = "check the file and the disk it is on, then reload"
    return StoreError(f"The run history {path} cannot be used ({text}): {todo}.")


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
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else paths.runs_db()
        self.checkpoints = self.path.parent / "checkpoints"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")  # readers never block the writing worker
                db.executescript(SCHEMA)
                columns = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
                for column, kind in ADDED_COLUMNS.items():  # a history written by an earlier version
                    if column not in columns:
                        db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            raise _advice(self.path, exc) from None
        except OSError as exc:
            raise StoreError(f"The run history {self.path} cannot be created ({exc.strerror}).") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        try:
            with db:  # commit on success, roll back on error
                yield db
        finally:
            db.close()

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
    ) -> int:
        """A new run; `key` (kept as its hash) is what stopping, deleting or retraining it takes."""
        boot = liveness.my_id(self.path.parent)
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO runs (name, experiment, spec_json, recipe_json, status, created, host, pid, boot_id,"
                " owner, key_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    experiment,
                    spec_json,
                    recipe_json,
                    status,
                    time.time(),
                    socket.gethostname(),
                    os.getpid(),
                    boot,
                    owner,
                    key_hash(key) if key else None,
                ),
            )
            return int(cur.lastrowid)

    def record_event(self, run_id: int, event: Event) -> None:
        """Store what a training event says (start, step, epoch); the end goes through finish()."""
        with self._connect() as db:
            if isinstance(event, StartEvent):
                db.execute(
                    "UPDATE runs SET status='running', started=?, device=?, params=?, spec_json=?, normalize_json=?"
                    " WHERE id=?",
                    (
                        time.time(),
                        event.device,
                        event.params,
                        json.dumps(event.spec),
                        json.dumps(event.normalize),
                        run_id,
                    ),
                )
            elif isinstance(event, StepEvent):
                db.execute(
                    "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, event.step, event.epoch, event.loss, event.images_per_sec, event.elapsed),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO stage_steps VALUES (?, ?, ?, ?, ?, ?)",
                    [(run_id, event.step, *(getattr(stats, f) for f in STAGE_FIELDS)) for stats in event.stages],
                )
            elif isinstance(event, EpochEvent):
                db.execute(
                    "INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, event.epoch, *(getattr(event, f) for f in EPOCH_FIELDS)),
                )
                db.execute("UPDATE runs SET test_acc=? WHERE id=?", (event.test_acc, run_id))

    def finish(self, run_id: int, result: RunResult, checkpoint_budget: int | None = None) -> None:
        """Store a RunResult: status, message, confusion matrix, misclassified images and weights
        (written now from its state_dict, or already written to result.checkpoint by a worker)."""
        checkpoint, status, message = result.checkpoint, result.status, result.message
        if result.state_dict is not None:
            try:
                checkpoint = save_weights(self.checkpoints, run_id, result.state_dict, checkpoint_budget)
            except StoreError as exc:
                message = f"{message}; {exc}"
        with self._connect() as db:
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
                    "INSERT OR REPLACE INTO misclassified VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, checkpoint FROM runs WHERE checkpoint IS NOT NULL ORDER BY finished DESC, id DESC"
            ).fetchall()
        total, removed = 0, []
        for row in rows:  # newest first: they are kept while they fit
            path = Path(row["checkpoint"])
            total += path.stat().st_size if path.exists() else 0
            if total > budget:
                path.unlink(missing_ok=True)
                removed.append(row["id"])
        if removed:
            with self._connect() as db:
                db.executemany("UPDATE runs SET checkpoint=NULL, weights_removed=1 WHERE id=?", [(i,) for i in removed])
        return removed

    def set_status(self, run_id: int, status: str, message: str = "") -> None:
        with self._connect() as db:
            finished = time.time() if status in FINAL else None
            db.execute(
                "UPDATE runs SET status=?, message=?, finished=? WHERE id=?", (status, message, finished, run_id)
            )

    def mark_interrupted(self) -> int:
        """Runs left 'running' or 'queued' by a process that no longer exists: a server or a `train`
        command was killed. Their metrics so far stay; only the status changes. Returns how many."""
        with self._connect() as db:
            rows = db.execute("SELECT id, host, pid, boot_id FROM runs WHERE status IN ('running', 'queued')")
            dead = [row["id"] for row in rows.fetchall() if not self._alive(row)]
            for run_id in dead:
                db.execute(
                    "UPDATE runs SET status='interrupted', message='the process running it ended', finished=?"
                    " WHERE id=?",
                    (time.time(), run_id),
                )
        return len(dead)

    def _alive(self, row: sqlite3.Row) -> bool:
        if row["host"] != socket.gethostname():
            return True  # another machine's run: not ours to judge
        if row["boot_id"]:
            return liveness.is_alive(self.path.parent, row["boot_id"])
        return _process_alive(row["host"], row["pid"])  # recorded before boot ids

    def delete(self, run_id: int) -> None:
        run = self.get(run_id)
        with self._connect() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        if run and run.checkpoint:
            Path(run.checkpoint).unlink(missing_ok=True)

    # ----- reading ---------------------------------------------------------------------------
    def get(self, run_id: int) -> RunRecord | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return record_of(row) if row else None

    def list(self, limit: int = 200, experiment: str | None = None) -> list[RunRecord]:
        query, args = "SELECT * FROM runs", []
        if experiment is not None:
            query, args = query + " WHERE experiment=?", [experiment]
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [record_of(row) for row in rows]

    def experiments(self, prefix: str = "") -> list[str]:
        """Experiment names (newest first) that start with `prefix`."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT experiment, MAX(id) AS last FROM runs WHERE experiment IS NOT NULL"
                " GROUP BY experiment ORDER BY last DESC"
            ).fetchall()
        return [row["experiment"] for row in rows if row["experiment"].startswith(prefix)]

    def epochs(self, run_id: int) -> list[dict[str, Any]]:
        with self._connect() as db:
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
        with self._connect() as db:
            rows = db.execute("SELECT * FROM steps WHERE run_id=? ORDER BY step", (run_id,)).fetchall()
            stats = db.execute(
                f"SELECT step, {', '.join(STAGE_FIELDS)} FROM stage_steps WHERE run_id=? ORDER BY step, rowid",
                (run_id,),
            ).fetchall()
        stages: dict[int, list[dict[str, Any]]] = {}
        for row in stats:
            step, *values = tuple(row)
            stages.setdefault(step, []).append(dict(zip(STAGE_FIELDS, values, strict=True)))
        return [{**dict(row), "stages": stages.get(row["step"], [])} for row in rows]

    def misclassified(self, run_id: int) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM misclassified WHERE run_id=? ORDER BY position", (run_id,)).fetchall()
        out = []
        for row in rows:
            shape = json.loads(row["shape"])
            image = torch.frombuffer(bytearray(row["pixels"]), dtype=torch.uint8).reshape(shape)
            out.append(
                {"index": row["test_index"], "true": row["true_label"], "pred": row["predicted"], "image": image}
            )
        return out
