"""The run history in its SQLite file: interrupted runs, checkpoints, a broken file, an earlier version's
file (tests/test_store.py runs the history on both engines)."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import explorer
from explorer.training.recipe import Recipe
from explorer.training.run_diff import differing_settings, run_labels
from explorer.training.run_record import RunRecord
from explorer.training.runs import RunStore, StoreError
from explorer.training.train import RunResult

from . import events

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")


def test_runs_of_a_killed_server_are_found_by_its_boot_id_not_its_pid(tmp_path):
    """A process records runs under a boot id and holds a lock on it while it lives. Once it is gone
    its runs are interrupted, even when its pid now belongs to a living process (pids are reused)."""
    db = tmp_path / "runs.sqlite"
    record = (
        "import sys, time; sys.path.insert(0, '.');"
        "from explorer.training.runs import RunStore; s = RunStore(sys.argv[1]);"
        "s.create(sys.argv[2], '{}', '{}', status='running'); print('ready', flush=True);"
        "time.sleep(float(sys.argv[3]))"
    )
    subprocess.run([sys.executable, "-c", record, str(db), "killed", "0"], check=True)  # the process is gone now
    living = subprocess.Popen([sys.executable, "-c", record, str(db), "elsewhere", "60"], stdout=subprocess.PIPE)
    try:
        assert living.stdout.readline() == b"ready\n"  # its run is recorded and its lock held
        store = RunStore(db)
        with sqlite3.connect(db) as con:  # the dead process's pid, reused by this one
            con.execute("UPDATE runs SET pid=? WHERE name='killed'", (os.getpid(),))
        store.record_event(1, events.epoch(1, 0.5))
        mine = store.create("this process", "{}", "{}", status="running")
        assert store.mark_interrupted() == 1
        status = {r.name: r.status for r in store.list()}
        assert status == {"killed": "interrupted", "elsewhere": "running", "this process": "running"}
        assert store.epochs(1)[0]["test_acc"] == 0.5  # nothing it recorded is lost
        assert store.get(mine).status == "running"
    finally:
        living.kill()
        living.wait()
    assert store.mark_interrupted() == 1 and store.list()[1].status == "interrupted"  # now that one is gone too


def test_weights_are_written_whole_and_kept_under_the_disk_budget(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    weights = {"w": torch.zeros(1000)}  # 4,000 bytes of tensor, 5,545 on disk: two fit in 12,000
    ids = [store.create(f"run {i}", "{}", "{}") for i in range(3)]
    for run_id in ids:
        store.finish(run_id, RunResult("completed", "done", state_dict=weights), checkpoint_budget=12_000)
    runs = {r.id: r for r in store.list()}
    assert runs[ids[0]].weights_removed and runs[ids[0]].checkpoint is None  # the oldest went first
    assert [runs[i].weights is not None for i in ids[1:]] == [True, True]
    assert sorted(p.name for p in store.checkpoints.iterdir()) == ["run-2.pt", "run-3.pt"]  # no partial files
    big = store.create("big", "{}", "{}")
    store.finish(big, RunResult("stopped", "stopped at step 9", state_dict={"w": torch.zeros(10_000)}), 12_000)
    run = store.get(big)
    assert run.checkpoint is None and "weights not kept: 39.1 KiB is more than the checkpoints' disk budget" in (
        run.message
    )


def test_a_broken_or_read_only_history_says_which_file_and_what_to_do(tmp_path, monkeypatch):
    broken = tmp_path / "broken" / "runs.sqlite"
    broken.parent.mkdir()
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=rf"The run history {broken} cannot be used \(file is not a database\)"):
        RunStore(broken)
    real_connect = sqlite3.connect

    def read_only(*args, **kwargs):  # what SQLite says of a read-only file (root may write anyway)
        db = real_connect(*args, **kwargs)
        db.execute("PRAGMA query_only = ON")
        return db

    monkeypatch.setattr(sqlite3, "connect", read_only)
    sealed = tmp_path / "sealed" / "runs.sqlite"
    with pytest.raises(StoreError) as refused:
        RunStore(sealed)
    assert str(refused.value).startswith(f"The run history {sealed} cannot be used (attempt to write a readonly")
    assert "make it and its folder writable, or set RESNET_EXPLORER_HOME to a writable folder" in str(refused.value)


def test_a_stored_run_rebuilds_from_its_downloads(tmp_path):
    """The Train page's downloads (the run's adapted spec, its weights) and the code it shows to load
    them: run as written, in a fresh namespace, they reproduce the run's recorded test accuracy."""
    from explorer.arch.codegen import loading_code
    from explorer.training.data import load_dataset
    from explorer.training.train import train

    store = RunStore(tmp_path / "runs.sqlite")
    recipe = QUICK.but(precision="fp32", resize=16)
    run_id = store.create("mini", MINI.to_json(), recipe.to_json())
    store.finish(run_id, train(MINI, recipe, lambda e: store.record_event(run_id, e), data=load_dataset("digits")))

    run = RunStore(tmp_path / "runs.sqlite").get(run_id)  # as a restarted app reads it
    assert (run.spec["input"]["height"], run.spec["num_classes"]) == (16, 10)
    (tmp_path / "spec.json").write_text(json.dumps(run.spec))
    (tmp_path / "weights.pt").write_bytes(Path(run.checkpoint).read_bytes())
    code = loading_code(str(tmp_path / "weights.pt"), str(tmp_path / "spec.json"), (16, 16), run.normalize)
    digits = load_dataset("digits")
    namespace = {"images": digits.x_test}
    exec(compile(code, "loading_code", "exec"), namespace)
    correct = int((namespace["predicted"] == digits.y_test).sum())
    assert correct == round(run.test_acc * len(digits.y_test)) and run.test_acc > 0.5


def test_a_history_from_an_earlier_version_gains_the_new_columns(tmp_path):
    from explorer.store.sqlite import SqliteDb
    from explorer.training.run_record import ADDED_COLUMNS, SCHEMA

    db = tmp_path / "runs.sqlite"
    old_schema = SCHEMA.format(**SqliteDb.types)
    for column, kind in (item for columns in ADDED_COLUMNS.values() for item in columns.items()):
        lines = old_schema.splitlines()
        old_schema = "\n".join(line for line in lines if not line.strip().startswith(f"{column} {kind},"))
    with sqlite3.connect(db) as con:
        con.executescript(old_schema)
        con.execute(
            "INSERT INTO runs (name, spec_json, recipe_json, status, created, host, pid)"
            " VALUES ('old', ?, '{}', 'completed', 0, 'h', 1)",
            (MINI.to_json(),),
        )
        for stage in ("stem", "stage 1", "head"):  # in the network's order, not the alphabet's
            con.execute("INSERT INTO stage_steps (run_id, step, stage) VALUES (1, 5, ?)", (stage,))
        con.execute("INSERT INTO steps (run_id, step) VALUES (1, 5)")
    store = RunStore(db)
    assert store.get(1).normalize is None and store.get(1).name == "old"
    assert [s["stage"] for s in store.steps(1)[0]["stages"]] == ["stem", "stage 1", "head"]
    run_id = store.create("new", MINI.to_json(), QUICK.to_json())
    store.record_event(run_id, events.start(MINI, params=1, normalize={"mean": [0.5], "std": [0.25]}))
    assert store.get(run_id).normalize == {"mean": [0.5], "std": [0.25]}


def test_overlaid_runs_are_told_apart_by_what_differs():
    def record(run_id, device="cpu", **recipe):
        base = json.loads(Recipe(dataset="digits").to_json()) | recipe
        return RunRecord(run_id, "resnet-mini", None, {}, base, device, "completed", "", 0.0, 0.0, 1.0, 77754,
                         0.9, None, None)  # fmt: skip

    old = record(1, lr=0.05)
    del old.recipe["compile"]  # a run stored before the setting existed counts at its default (off)
    runs = [old, record(2, lr=0.1), record(3, device="cuda", lr=0.1, compile=True, log_every=5)]
    assert differing_settings(runs) == {
        "lr": ["0.05", "0.1", "0.1"],
        "device": ["cpu", "cpu", "cuda"],  # the device a run used, not the one it asked for
        "compile": ["off", "off", "on"],
    }  # log_every changes only how often the loss is read: not a difference worth a column
    assert run_labels(runs) == [
        "#1 resnet-mini · lr 0.05 · device cpu",
        "#2 resnet-mini · lr 0.1 · device cpu",
        "#3 resnet-mini · lr 0.1 · device cuda",
    ]  # the fewest settings that tell them apart: compile would repeat what device says
    assert run_labels(runs[1:]) == ["#2 resnet-mini · device cpu", "#3 resnet-mini · device cuda"]
    assert run_labels(runs[:1]) == ["#1 resnet-mini"]


def test_runs_export_their_epochs_as_csv(tmp_path):
    import csv
    import io

    store = RunStore(tmp_path / "runs.sqlite")
    ids = [store.create(name, "{}", "{}") for name in ("a", "b")]
    for run_id, accs in zip(ids, ([0.5, 0.7], [0.6]), strict=True):
        for epoch, acc in enumerate(accs, 1):
            store.record_event(run_id, events.epoch(epoch, acc, train_acc=acc, test_loss=1.1, images_per_sec=9.0))
    rows = list(csv.DictReader(io.StringIO(store.epochs_csv(ids))))
    assert [(r["run"], r["name"], r["epoch"], r["test_acc"]) for r in rows] == [
        (str(ids[0]), "a", "1", "0.5"),
        (str(ids[0]), "a", "2", "0.7"),
        (str(ids[1]), "b", "1", "0.6"),
    ]
    assert "run_id" not in rows[0] and "images_per_sec" in rows[0]
