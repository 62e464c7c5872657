"""The store on both engines (SQLite and PostgreSQL, tests/conftest.py's store_location): a run's
whole life, interrupted runs, two processes writing at once; then what a wrong URL or an unreachable
server says. The challenge's board runs on both engines in tests/test_challenge.py."""

import dataclasses
import json
import multiprocessing

import pytest
import torch

import explorer
from explorer.cli.main import main as cli
from explorer.store import StoreError
from explorer.training.recipe import Recipe
from explorer.training.runs import RunStore
from explorer.training.stage_stats import StageStats
from explorer.training.train import RunResult

from . import events

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")
STAGES = [StageStats(name, 0.5, 2.0, 0.01) for name in ("stem", "layer1", "head")]  # the network's order
WRITERS, RUNS_EACH = 2, 10  # 10 rounds of 4 transactions in each process


def test_a_run_is_created_recorded_finished_listed_and_deleted(store_location):
    store = RunStore(store_location)
    run_id = store.create("mini", MINI.to_json(), QUICK.to_json(), experiment="twins", owner="s1", key="k")
    store.record_event(run_id, events.start(MINI))
    store.record_event(run_id, dataclasses.replace(events.step(5, 1.5), stages=STAGES))
    store.record_event(run_id, events.step(5, 1.25))  # a step recorded again replaces the first
    store.record_event(run_id, events.epoch(1, 0.7, train_loss=1.2, train_acc=0.6, test_loss=1.1))
    weights = {"w": torch.arange(4.0)}
    image = torch.arange(64, dtype=torch.uint8).view(1, 8, 8)
    misclassified = [{"index": 7, "true": 3, "pred": 5, "image": image}]
    store.finish(run_id, RunResult("completed", "done", [], [[1, 0], [0, 1]], misclassified, weights, MINI))
    other = store.create("plain", "{}", "{}", experiment="twins")
    del store

    again = RunStore(store_location)  # a new process would do exactly this
    run = again.get(run_id)
    assert run.status == "completed" and run.params == 77754 and run.test_acc == 0.7 and run.message == "done"
    assert run.spec == MINI.to_dict() and run.recipe == json.loads(QUICK.to_json())
    assert run.confusion == [[1, 0], [0, 1]] and run.normalize == {"mean": [0.5], "std": [0.25]}
    assert (run.owner, run.experiment, run.duration >= 0) == ("s1", "twins", True)
    assert [(s["step"], s["loss"], [x["stage"] for x in s["stages"]]) for s in again.steps(run_id)] == [
        (5, 1.25, ["stem", "layer1", "head"])
    ]
    assert [(e["epoch"], e["test_acc"], e["train_loss"]) for e in again.epochs(run_id)] == [(1, 0.7, 1.2)]
    miss = again.misclassified(run_id)[0]
    assert (miss["index"], miss["true"], miss["pred"]) == (7, 3, 5) and torch.equal(miss["image"], image)
    assert torch.equal(torch.load(run.weights, weights_only=True)["w"], weights["w"])
    assert [r.id for r in again.list()] == [other, run_id] and again.experiments("tw") == ["twins"]
    again.set_status(other, "stopped", "stopped at step 3")
    assert (again.get(other).status, again.get(other).message) == ("stopped", "stopped at step 3")
    again.delete(run_id)
    assert again.get(run_id) is None and again.epochs(run_id) == [] and again.steps(run_id) == []
    assert not run.weights  # its weights went with it


def test_runs_of_a_process_that_ended_are_interrupted_and_keep_their_metrics(store_location):
    store = RunStore(store_location)
    gone, mine, remote = (store.create(name, "{}", "{}", status="running") for name in ("gone", "mine", "remote"))
    store.record_event(gone, events.epoch(1, 0.5))
    with store.engine.connect() as db:  # a process that ended, and one on another machine
        db.execute("UPDATE runs SET boot_id='0123456789abcdef' WHERE id=?", (gone,))
        db.execute("UPDATE runs SET host='another-machine', boot_id='0123456789abcdef' WHERE id=?", (remote,))
    assert store.mark_interrupted() == 1
    assert {r.name: r.status for r in store.list()} == {"gone": "interrupted", "mine": "running", "remote": "running"}
    assert store.epochs(gone)[0]["test_acc"] == 0.5 and store.get(gone).finished is not None
    assert store.mark_interrupted() == 0 and store.get(mine).status == "running"


def _write_runs(location: str, writer: int, together: multiprocessing.Barrier) -> None:
    store = RunStore(location)
    for i in range(RUNS_EACH):
        together.wait(30)  # each round's writes start at the same moment in both processes
        run_id = store.create(f"{writer}-{i}", "{}", "{}", status="running")
        store.record_event(run_id, events.step(1, float(i)))
        store.record_event(run_id, events.epoch(1, i / 100))
        store.set_status(run_id, "completed")


def test_two_processes_write_at_once_and_nothing_is_lost(store_location):
    """Two servers (or a server and a `train` command) writing the same history at the same moments."""
    RunStore(store_location)  # the tables, before either writer starts
    fork = multiprocessing.get_context("fork")  # this process's imports, without importing them again
    together = fork.Barrier(WRITERS)
    writers = [fork.Process(target=_write_runs, args=(store_location, w, together)) for w in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(60)
    assert [p.exitcode for p in writers] == [0] * WRITERS
    store = RunStore(store_location)
    runs = store.list(limit=1000)
    assert len({r.id for r in runs}) == WRITERS * RUNS_EACH
    rounds = [int(r.name.split("-")[1]) for r in sorted(runs, key=lambda r: r.id)]
    assert rounds == [i for i in range(RUNS_EACH) for _ in range(WRITERS)]  # they wrote side by side, round by round
    assert sorted(r.name for r in runs) == sorted(f"{w}-{i}" for w in range(WRITERS) for i in range(RUNS_EACH))
    assert {r.status for r in runs} == {"completed"}
    assert all(r.test_acc == int(r.name.split("-")[1]) / 100 for r in runs)
    assert [len(store.steps(r.id)) for r in runs] == [1] * len(runs)


def test_a_wrong_url_says_which_setting_and_what_to_write(home, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_STORE_URL", "mysql://db.example.org/runs")
    with pytest.raises(StoreError) as wrong:
        RunStore()
    assert str(wrong.value) == (
        f"store_url in {home / 'settings.toml'} or RESNET_EXPLORER_STORE_URL: mysql:// is not a store this app "
        "knows; give postgresql://user@host/database for PostgreSQL, or leave it empty for the SQLite file in "
        "the data folder."
    )
    monkeypatch.setenv("RESNET_EXPLORER_STORE_URL", "")
    assert RunStore().where == str(home / "runs.sqlite")


def test_an_unreachable_server_or_a_missing_database_says_what_to_do(postgres_server, home, monkeypatch, capsys):
    nowhere = f"postgresql://explorer:secret@/runs?host={home}/no-server"  # no socket there: refused at once
    monkeypatch.setenv("RESNET_EXPLORER_STORE_URL", nowhere)
    with pytest.raises(StoreError) as unreachable:
        RunStore()
    message = str(unreachable.value)
    assert message.startswith(f"The run history at postgresql://explorer@/runs?host={home}/no-server cannot be reached")
    setting = f"store_url in {home / 'settings.toml'} or RESNET_EXPLORER_STORE_URL"
    assert message.endswith(f"this machine reaches it, and the host and port in {setting}, then reload.")
    assert "secret" not in message
    assert cli(["runs"]) == 2  # the command line: one line, exit status 2
    assert capsys.readouterr().err.startswith("error: The run history at postgresql://explorer@/runs?host=")
    missing = postgres_server.url.replace("@/postgres?", "@/no_such_db?")
    with pytest.raises(StoreError, match=r'database "no_such_db" does not exist\): create it \(createdb -O USER'):
        RunStore(missing, setting="--db")
    guest = postgres_server.url.replace("explorer@", "guest@")  # a user that owns neither the database nor `public`
    with pytest.raises(StoreError, match=r"guest may not create its tables there; make it the database's owner"):
        RunStore(guest)
    monkeypatch.setenv("RESNET_EXPLORER_STORE_URL", postgres_server.fresh())
    store = RunStore()  # the setting chooses the engine, for the app and the command line alike
    assert store.where.startswith("postgresql://explorer@/postgres?host=")
    store.create("on the server", "{}", "{}")
    assert cli(["runs", "--json"]) == 0 and json.loads(capsys.readouterr().out)["name"] == "on the server"
