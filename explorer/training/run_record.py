"""A run as the history keeps it: the tables (one row per run; epochs, sampled steps and the
misclassified test images in tables of their own), in SQL both engines read (explorer/store/: the
schema's {id} and {blob} are each dialect's), and the RunRecord a row reads as."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .recipe import RANGE_TEST

# DOUBLE PRECISION, never REAL: PostgreSQL's REAL has 4 bytes (a time.time() to within minutes);
# SQLite reads either as its 8-byte REAL.
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id {id},
    name TEXT NOT NULL,
    experiment TEXT,                 -- groups runs started together (e.g. the degradation experiment)
    spec_json TEXT NOT NULL,
    recipe_json TEXT NOT NULL,
    device TEXT,
    status TEXT NOT NULL,            -- queued, running, completed, stopped, diverged, failed, interrupted
    message TEXT NOT NULL DEFAULT '',
    created DOUBLE PRECISION NOT NULL,
    started DOUBLE PRECISION,
    finished DOUBLE PRECISION,
    params BIGINT,
    test_acc DOUBLE PRECISION,
    confusion_json TEXT,
    checkpoint TEXT,
    normalize_json TEXT,             -- per-channel mean and std the inputs were normalised with
    boot_id TEXT,                    -- the recording process's boot id (liveness.py)
    owner TEXT,                      -- the browser session that submitted it (quotas)
    key_hash TEXT,                   -- sha256 of the key that may stop, delete or retrain it
    weights_removed INTEGER NOT NULL DEFAULT 0, -- its weights went to keep the checkpoints' disk budget
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queue TEXT,                      -- the device kind it waits for (cpu, cuda): replicas share the queue
    address TEXT,                    -- the submitting client's address (the per-address quota)
    stop_requested INTEGER NOT NULL DEFAULT 0, -- asked on any replica; the process training it stops it
    progress DOUBLE PRECISION, elapsed DOUBLE PRECISION, eta DOUBLE PRECISION, -- as of its last step
    start_json TEXT                  -- its StartEvent: what the run's page says of it on any replica
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, id);
CREATE TABLE IF NOT EXISTS epochs (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    train_loss DOUBLE PRECISION, train_acc DOUBLE PRECISION,
    test_loss DOUBLE PRECISION, test_acc DOUBLE PRECISION,
    images_per_sec DOUBLE PRECISION, elapsed DOUBLE PRECISION,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS steps (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER, loss DOUBLE PRECISION, images_per_sec DOUBLE PRECISION, elapsed DOUBLE PRECISION,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS stage_steps (        -- inside training, per stage (stage_stats.py)
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    stage TEXT NOT NULL,
    position INTEGER,                           -- the stage's place in the network: 0 for the first
    grad_norm DOUBLE PRECISION, weight_norm DOUBLE PRECISION, update_ratio DOUBLE PRECISION,
    PRIMARY KEY (run_id, step, stage)
);
CREATE TABLE IF NOT EXISTS misclassified (
    run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    test_index INTEGER, true_label INTEGER, predicted INTEGER,
    shape TEXT NOT NULL, pixels {blob} NOT NULL,     -- uint8 image, C,H,W
    PRIMARY KEY (run_id, position)
);
"""
ADDED_COLUMNS = {
    "runs": {
        "normalize_json": "TEXT",
        "boot_id": "TEXT",
        "owner": "TEXT",
        "key_hash": "TEXT",
        "weights_removed": "INTEGER NOT NULL DEFAULT 0",
        "queue": "TEXT",
        "address": "TEXT",
        "stop_requested": "INTEGER NOT NULL DEFAULT 0",
        "progress": "DOUBLE PRECISION",
        "elapsed": "DOUBLE PRECISION",
        "eta": "DOUBLE PRECISION",
        "start_json": "TEXT",
    },
    "stage_steps": {"position": "INTEGER"},  # SQLite's rowid kept their order before; PostgreSQL has none
}  # columns newer than the first schema, added on open
FINAL = ("completed", "stopped", "diverged", "failed", "interrupted")
STAGE_FIELDS = ("stage", "grad_norm", "weight_norm", "update_ratio")  # stage_stats.StageStats, in order
EPOCH_FIELDS = ("train_loss", "train_acc", "test_loss", "test_acc", "images_per_sec", "elapsed")


@dataclass(frozen=True)
class RunRecord:
    id: int
    name: str
    experiment: str | None
    spec: dict[str, Any]
    recipe: dict[str, Any]
    device: str | None
    status: str
    message: str
    created: float
    started: float | None
    finished: float | None
    params: int | None
    test_acc: float | None
    confusion: list[list[int]] | None
    checkpoint: str | None
    normalize: dict[str, list[float]] | None = None  # {"mean": [...], "std": [...]} per input channel
    owner: str | None = None
    key_hash: str | None = None
    weights_removed: bool = False

    @property
    def began(self) -> float:
        """When it started training, or when it was queued if it never started (epoch seconds)."""
        return self.started or self.created

    @property
    def weights(self) -> Path | None:
        """Its weights file, if it has one and it is still there (a failed run has none)."""
        return Path(self.checkpoint) if self.checkpoint and Path(self.checkpoint).exists() else None

    @property
    def range_test(self) -> bool:
        """Whether it was a learning-rate range test (explorer/training/lr_range.py), not a training run."""
        return self.recipe.get("schedule") == RANGE_TEST

    @property
    def device_label(self) -> str:
        """The device it used, and whether its network was compiled: 'cuda:0, compiled'."""
        return (self.device or "") + (", compiled" if self.recipe.get("compile") else "")

    @property
    def duration(self) -> float | None:
        return None if self.started is None else (self.finished or time.time()) - self.started


def record_of(row: Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        id=row["id"],
        name=row["name"],
        experiment=row["experiment"],
        spec=json.loads(row["spec_json"]),
        recipe=json.loads(row["recipe_json"]),
        device=row["device"],
        status=row["status"],
        message=row["message"],
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        params=row["params"],
        test_acc=row["test_acc"],
        confusion=json.loads(row["confusion_json"]) if row["confusion_json"] else None,
        checkpoint=row["checkpoint"],
        normalize=json.loads(row["normalize_json"]) if row["normalize_json"] else None,
        owner=row["owner"],
        key_hash=row["key_hash"],
        weights_removed=bool(row["weights_removed"]),
    )
