"""Run history in SQLite: persistence across a restart, interrupted runs, checkpoints, the queue."""

import json
import subprocess
import sys
import time
from pathlib import Path

import torch

import explorer
from explorer.jobs import JobRegistry
from explorer.recipe import Recipe
from explorer.run_diff import differing_settings, run_labels
from explorer.runs import RunRecord, RunStore
from explorer.train import RunResult

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")


def test_everything_survives_a_restart(tmp_path):
    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    run_id = store.create("mini", MINI.to_json(), QUICK.to_json())
    store.record_event(run_id, {"event": "start", "device": "cpu", "params": 77754, "spec": MINI.to_dict()})
    store.record_event(
        run_id, {"event": "step", "step": 5, "epoch": 1, "loss": 1.5, "images_per_sec": 900.0, "elapsed": 0.5}
    )
    epoch = {"train_loss": 1.2, "train_acc": 0.6, "test_loss": 1.1, "test_acc": 0.7, "images_per_sec": 1e3}
    store.record_event(run_id, {"event": "epoch", "epoch": 1, **epoch, "elapsed": 1.0})
    weights = {"w": torch.arange(4.0)}
    image = torch.arange(64, dtype=torch.uint8).view(1, 8, 8)
    misclassified = [{"index": 7, "true": 3, "pred": 5, "image": image}]
    store.finish(run_id, RunResult("completed", "done", [], [[1, 0], [0, 1]], misclassified, weights, MINI))
    del store

    again = RunStore(db)  # a new process would do exactly this
    run = again.get(run_id)
    assert run.status == "completed" and run.params == 77754 and run.test_acc == 0.7
    assert run.spec == MINI.to_dict() and run.recipe == json.loads(QUICK.to_json())
    assert run.confusion == [[1, 0], [0, 1]] and run.duration >= 0
    assert again.steps(run_id)[0]["loss"] == 1.5
    assert again.epochs(run_id)[0]["test_acc"] == 0.7
    miss = again.misclassified(run_id)[0]
    assert (miss["index"], miss["true"], miss["pred"]) == (7, 3, 5) and torch.equal(miss["image"], image)
    assert torch.equal(again.load_checkpoint(run_id)["w"], weights["w"])
    assert [r.id for r in again.list()] == [run_id]
    again.delete(run_id)
    assert again.get(run_id) is None and again.epochs(run_id) == []


def test_runs_of_a_killed_server_are_marked_interrupted(tmp_path):
    db = tmp_path / "runs.sqlite"
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from explorer.runs import RunStore; s = RunStore(sys.argv[1]);"
        "r = s.create('killed', '{}', '{}', status='running');"
        "s.record_event(r, {'event': 'epoch', 'epoch': 1, 'train_loss': 1.0, 'train_acc': 0.5,"
        " 'test_loss': 1.0, 'test_acc': 0.5, 'images_per_sec': 1.0, 'elapsed': 1.0})"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True)  # the process is gone now
    store = RunStore(db)
    alive = store.create("this process", "{}", "{}", status="running")
    registry = JobRegistry(store)
    assert registry.interrupted == 1
    killed = [r for r in store.list() if r.name == "killed"][0]
    assert killed.status == "interrupted" and store.epochs(killed.id)[0]["test_acc"] == 0.5  # nothing lost
    assert store.get(alive).status == "running"


def test_queue_runs_one_at_a_time_with_positions(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    registry = JobRegistry(store)
    slow = QUICK.but(epochs=30)
    first = registry.submit(MINI, slow, "first")
    second = registry.submit(MINI, QUICK, "second")
    third = registry.submit(MINI, QUICK, "third")
    deadline = time.time() + 30
    while registry.snapshot(first).status != "running" and time.time() < deadline:
        time.sleep(0.05)
    assert registry.snapshot(first).position == 0
    assert registry.snapshot(second).position == 1 and registry.snapshot(second).status == "queued"
    assert registry.snapshot(third).position == 2
    registry.stop(third)  # a queued run leaves the queue at once
    assert registry.snapshot(third).status == "stopped" and store.get(third).status == "stopped"
    registry.stop(first)
    assert registry.wait(first, 30) and registry.snapshot(first).status == "stopped"
    assert registry.wait(second, 60)
    snap = registry.snapshot(second)
    assert snap.status == "completed" and snap.progress == 1.0 and len(snap.epochs) == 2
    assert snap.info["params"] == 77754
    run = store.get(second)
    assert run.status == "completed" and len(store.epochs(second)) == 2 and store.steps(second)
    assert run.checkpoint and store.misclassified(second)
    assert store.get(first).status == "stopped"
    assert registry.active() == []


def test_a_run_shows_finished_only_once_it_is_stored(tmp_path):
    """A page that sees a run finished reads its results from the store at once: the weights must be
    there by then (before, a page could see 'completed' between the trainer's end and the store's
    write, and show the run without its results)."""
    import threading

    class SlowStore(RunStore):
        def __init__(self, path):
            super().__init__(path)
            self.writing, self.go_on = threading.Event(), threading.Event()

        def finish(self, run_id, result):
            self.writing.set()
            self.go_on.wait(30)
            super().finish(run_id, result)

    store = SlowStore(tmp_path / "runs.sqlite")
    registry = JobRegistry(store)
    run_id = registry.submit(MINI, QUICK.but(epochs=1), "mini")
    assert store.writing.wait(60)  # trained; the store's write has begun
    snap = registry.snapshot(run_id)
    assert snap.status == "running" and not snap.finished
    store.go_on.set()
    assert registry.wait(run_id, 30)
    assert registry.snapshot(run_id).status == "completed" and store.get(run_id).checkpoint


def test_only_ended_runs_are_deleted_and_then_forgotten(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    registry = JobRegistry(store)
    running = registry.submit(MINI, QUICK.but(epochs=30), "long")
    queued = registry.submit(MINI, QUICK, "next")
    assert not registry.delete(running) and not registry.delete(queued)  # refused: still training or waiting
    registry.stop(queued)  # a queued run stopped at once has ended
    assert registry.delete(queued) and store.get(queued) is None and registry.snapshot(queued) is None
    deadline = time.time() + 30
    while not registry.snapshot(running).steps and time.time() < deadline:  # it has trained a little
        time.sleep(0.05)
    registry.stop(running)
    assert registry.wait(running, 30)
    checkpoint = Path(store.get(running).checkpoint)  # a stopped run keeps its weights
    assert checkpoint.exists() and registry.delete(running)
    assert store.get(running) is None and registry.snapshot(running) is None and not checkpoint.exists()


def test_failed_dataset_fails_the_run_not_the_queue(tmp_path, monkeypatch):
    import torchvision.datasets.utils as utils

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(utils, "download_and_extract_archive", offline)
    registry = JobRegistry(RunStore(tmp_path / "runs.sqlite"), data_dir=tmp_path / "nothing-here")
    bad = registry.submit(MINI, QUICK.but(dataset="kmnist"), "offline")
    good = registry.submit(MINI, QUICK.but(epochs=1), "digits")
    assert registry.wait(bad, 60) and registry.wait(good, 60)
    assert registry.snapshot(bad).status == "failed" and "'digits'" in registry.snapshot(bad).message
    assert registry.snapshot(good).status == "completed"


def test_a_stored_run_rebuilds_from_its_downloads(tmp_path):
    """The Train page's downloads (the run's adapted spec, its weights) and the code it shows to load
    them: run as written, in a fresh namespace, they reproduce the run's recorded test accuracy."""
    from explorer.codegen import loading_code
    from explorer.data import load_dataset
    from explorer.train import train

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
    import sqlite3

    from explorer.runs import ADDED_COLUMNS, SCHEMA

    db = tmp_path / "runs.sqlite"
    old_schema = SCHEMA
    for column in ADDED_COLUMNS:
        old_schema = "\n".join(line for line in old_schema.splitlines() if not line.strip().startswith(column))
    with sqlite3.connect(db) as con:
        con.executescript(old_schema)
        con.execute(
            "INSERT INTO runs (name, spec_json, recipe_json, status, created, host, pid)"
            " VALUES ('old', ?, '{}', 'completed', 0, 'h', 1)",
            (MINI.to_json(),),
        )
    store = RunStore(db)
    assert store.get(1).normalize is None and store.get(1).name == "old"
    run_id = store.create("new", MINI.to_json(), QUICK.to_json())
    store.record_event(run_id, {"event": "start", "device": "cpu", "params": 1, "spec": MINI.to_dict(),
                                "normalize": {"mean": [0.5], "std": [0.25]}})  # fmt: skip
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
            fields = {"train_loss": 1.0, "train_acc": acc, "test_loss": 1.1, "images_per_sec": 9.0, "elapsed": 1.0}
            store.record_event(run_id, {"event": "epoch", "epoch": epoch, "test_acc": acc, **fields})
    rows = list(csv.DictReader(io.StringIO(store.epochs_csv(ids))))
    assert [(r["run"], r["name"], r["epoch"], r["test_acc"]) for r in rows] == [
        (str(ids[0]), "a", "1", "0.5"),
        (str(ids[0]), "a", "2", "0.7"),
        (str(ids[1]), "b", "1", "0.6"),
    ]
    assert "run_id" not in rows[0] and "images_per_sec" in rows[0]
