"""Training on a Ray cluster (explorer/training/ray_backend.py), through one local Ray instance for the
module (its start, and each actor's, are the module's main costs): runs stream their events live and
end as local runs do, stop within a step, and a lost Ray worker fails its run while the queue goes on."""

import os
import signal
import sys
from pathlib import Path

import pytest
import ray

import explorer
from explorer.hall.budget import BudgetError
from explorer.hall.settings import Settings, SettingsError, load_settings
from explorer.training import ray_backend
from explorer.training.jobs import JobRegistry, Submitter
from explorer.training.recipe import Recipe
from explorer.training.runs import RunStore

from .apptest import shown
from .waits import SETTLE_SECONDS, wait_until

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")
LONG = QUICK.but(epochs=60)  # about ten seconds: long enough to be caught running


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry whose runs train on a local Ray instance of two cores: two runs at once, a core each,
    as this machine's own workers split it (one run on both took 1.7x longer here, beside other work)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a test reports nothing to anyone
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    folder = tmp_path_factory.mktemp("ray")
    jobs = JobRegistry(
        RunStore(folder / "runs.sqlite"), data_dir=folder / "datasets", settings=Settings(ray_address="auto")
    )
    yield jobs
    jobs.close()
    ray.shutdown()


def test_a_run_on_ray_streams_its_events_and_ends_with_a_local_runs_results(registry, monkeypatch):
    store = registry.store
    run = registry.submit(MINI, QUICK, "on ray").run_id
    assert registry.wait(run, SETTLE_SECONDS)
    snap = registry.snapshot(run)
    assert snap.status == "completed" and snap.progress == 1.0 and len(snap.epochs) == 2
    assert snap.start.params == 77754 and snap.start.device == "cpu" and snap.steps
    record = store.get(run)
    assert record.status == "completed" and len(store.epochs(run)) == 2 and store.steps(run)
    assert record.checkpoint and Path(record.checkpoint).exists() and store.misclassified(run)  # written here
    assert [slot.threads for slot in registry.slots["cpu"]] == [1, 1]
    assert registry.slots["cpu"][0].denormals_flushed is True and registry.speed("cpu") is not None
    huge = explorer.spec_from_dict({**MINI.to_dict(), "stages": [{"blocks": 500, "channels": 8192, "stride": 1}] * 2})
    with pytest.raises(BudgetError, match=r"^max_params: its parameter count is 1,20\d,\d{3},\d{3},\d{3}; this server"):
        registry.submit(huge, QUICK, "huge")  # the budgets, before anything reaches the cluster
    monkeypatch.setattr(registry, "settings", Settings(ray_address="auto", max_run_minutes=0.5))
    monkeypatch.setattr(registry, "_limits", {})
    with pytest.raises(BudgetError, match=r"^max_run_minutes: its estimated time here is "):
        registry.submit(MINI, QUICK.but(epochs=1000), "too long", by=Submitter("student"))  # at Ray's speed
    assert registry.active() == []


def test_runs_on_ray_queue_show_live_stop_and_a_lost_worker_fails_only_its_run(registry):
    store = registry.store
    doomed = registry.submit(MINI, LONG, "doomed").run_id
    busy = registry.submit(MINI, LONG.but(epochs=600), "busy").run_id  # keeps the other slot until stopped
    waiting = registry.submit(MINI, QUICK.but(epochs=1), "waiting").run_id  # both slots are busy: it waits
    assert wait_until(lambda: all(registry.snapshot(r).status == "running" for r in (doomed, busy)))
    assert registry.snapshot(waiting).position == 1 and registry.snapshot(waiting).status == "queued"
    assert wait_until(lambda: store.steps(doomed) and registry.snapshot(doomed).steps)  # live, while it trains
    assert registry.snapshot(doomed).status == "running" and registry.snapshot(doomed).position == 0
    slot = next(slot for slot in registry.slots["cpu"] if slot.job_id == doomed)
    lost = slot.pid
    os.kill(lost, signal.SIGKILL)  # its process gone, as with a node lost
    assert registry.wait(doomed, SETTLE_SECONDS)
    snap = registry.snapshot(doomed)
    assert snap.status == "failed" and store.get(doomed).status == "failed"
    assert snap.message.startswith("the Ray worker training it was lost (") and "the next run starts" in snap.message
    assert wait_until(lambda: slot.job_id == waiting)  # the next run, in a new actor: the other slot is busy
    assert slot.pid not in (None, lost) and registry.snapshot(busy).status == "running"
    registry.stop(busy, lecturer=True)  # the new actor's run trains alone from here
    assert registry.wait(busy, SETTLE_SECONDS) and registry.snapshot(busy).status == "stopped"
    assert registry.wait(waiting, SETTLE_SECONDS) and registry.snapshot(waiting).status == "completed"
    assert store.get(busy).status == "stopped" and Path(store.get(busy).checkpoint).exists()
    assert registry.delete(busy, lecturer=True) and store.get(busy) is None


def test_an_unreachable_cluster_or_no_ray_is_said_in_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a server that has not connected yet
    monkeypatch.setattr(ray_backend, "_failures", {})  # nothing said before
    jobs = JobRegistry(RunStore(tmp_path / "runs.sqlite"), settings=Settings(ray_address="127.0.0.1:1"))
    try:
        run = jobs.submit(MINI, QUICK, "nowhere").run_id
        assert jobs.wait(run, SETTLE_SECONDS)
        snap = jobs.snapshot(run)
        assert snap.status == "failed" and snap.message == jobs.worker_problem("cpu")
        assert snap.message.startswith(
            "The Ray cluster at 127.0.0.1:1 (ray_address) cannot be reached: Connection refused; start it "
            "(ray start --head) or clear ray_address in "
        )
        assert snap.message.endswith("RESNET_EXPLORER_RAY_ADDRESS to train on this machine")
    finally:
        jobs.close()
    monkeypatch.setitem(sys.modules, "ray", None)  # not installed
    jobs = JobRegistry(RunStore(tmp_path / "runs.sqlite"), settings=Settings(ray_address="auto"))
    try:
        assert jobs.wait(jobs.submit(MINI, QUICK, "no ray").run_id, SETTLE_SECONDS)
        assert jobs.worker_problem("cpu").startswith(
            "ray_address is 'auto' but the ray package is not installed here: pip install -e .[ray], or clear "
        )
    finally:
        jobs.close()


@pytest.mark.parametrize("address", ["auto", "ray://head.example.org:10001", "10.0.0.5:6379", ""])
def test_the_ray_address_setting_takes_auto_or_host_and_port(address, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_RAY_ADDRESS", f" {address} ")
    assert load_settings().ray_address == address


def test_a_ray_address_that_is_not_one_names_the_allowed_values(monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_RAY_ADDRESS", "head.example.org")
    with pytest.raises(SettingsError, match=r"^ray_address: 'head.example.org' in RESNET_EXPLORER_RAY_ADDRESS is not"):
        load_settings()


def test_the_train_page_says_in_one_sentence_that_the_cluster_cannot_be_reached(app, monkeypatch):
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a server that has not connected yet
    monkeypatch.setattr(ray_backend, "_failures", {})  # nothing said before
    monkeypatch.setenv("RESNET_EXPLORER_RAY_ADDRESS", "127.0.0.1:1")
    app.run()
    app.switch_page("app_pages/train.py").run()
    assert not app.exception
    said = [shown(e.value) for e in app.error]
    assert len(said) == 1 and said[0].startswith(
        "Training is unavailable here: The Ray cluster at 127.0.0.1:1 (ray_address) cannot be reached: "
        "Connection refused; start it (ray start --head) or clear ray_address in "
    )
