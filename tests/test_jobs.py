"""The job registry: runs queue, train in worker processes, belong to whoever started them, and end
settled whatever fails (a killed worker, a store that cannot be written, a dataset that cannot be had)."""

import os
import signal
import threading
from pathlib import Path

import pytest

import explorer
import explorer.training.jobs
from explorer.hall.budget import BudgetError
from explorer.hall.settings import Settings
from explorer.training.jobs import LECTURER, JobRegistry, Submitter, cpu_cores
from explorer.training.recipe import Recipe
from explorer.training.runs import RunStore, StoreError
from explorer.training.slots import resident_bytes

from .waits import SETTLE_SECONDS, wait_until

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")
LONG = QUICK.but(epochs=60)  # about ten seconds: long enough to be caught running


class FaultyStore(RunStore):
    """A run history whose faults a test switches on: a result it cannot take (a full disk), one
    it takes slowly, steps it cannot write (a read-only database)."""

    def __init__(self, path):
        super().__init__(path)
        self.full, self.readonly = 0, False
        self.writing, self.hold = threading.Event(), None

    def finish(self, run_id, result, checkpoint_budget=None):
        if self.hold is not None:
            self.writing.set()
            self.hold.wait(30)
        if self.full:
            self.full -= 1
            raise StoreError("database or disk is full")
        super().finish(run_id, result, checkpoint_budget)

    def record_event(self, run_id, event):
        if self.readonly:
            raise StoreError("attempt to write a readonly database")
        super().record_event(run_id, event)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """One registry and its worker for the module (each start of a worker costs seconds here). Its
    worker cannot download anything: its downloads go to a proxy that refuses them at once."""
    proxies = {name: os.environ.get(name) for name in ("http_proxy", "https_proxy")}
    os.environ.update(dict.fromkeys(proxies, "http://127.0.0.1:9"))
    folder = tmp_path_factory.mktemp("jobs")
    jobs = JobRegistry(FaultyStore(folder / "runs.sqlite"), data_dir=folder / "no-datasets", settings=Settings())
    yield jobs
    jobs.close()
    for name, value in proxies.items():
        if value is None:
            os.environ.pop(name)
        else:
            os.environ[name] = value


@pytest.fixture
def settings(registry, monkeypatch):
    """Set the registry's settings for one test."""

    def use(**values):
        monkeypatch.setattr(registry, "settings", Settings(**values))
        monkeypatch.setattr(registry, "_limits", {})

    return use


def test_queued_runs_wait_for_a_free_worker_with_positions(registry):
    store = registry.store
    first, *others = (registry.submit(MINI, LONG, "first").run_id for _ in range(registry.per_device))
    second = registry.submit(MINI, QUICK, "second").run_id  # every worker is busy: these two wait
    third = registry.submit(MINI, QUICK, "third").run_id
    assert wait_until(lambda: all(registry.snapshot(r).status == "running" for r in (first, *others)))
    assert registry.snapshot(first).position == 0
    assert registry.snapshot(second).position == 1 and registry.snapshot(second).status == "queued"
    assert registry.snapshot(third).position == 2
    registry.stop(third, lecturer=True)  # a queued run leaves the queue at once
    assert registry.snapshot(third).status == "stopped" and store.get(third).status == "stopped"
    for run in (first, *others):
        registry.stop(run, lecturer=True)
    assert registry.wait(first, SETTLE_SECONDS) and registry.snapshot(first).status == "stopped"
    assert registry.wait(second, SETTLE_SECONDS)
    snap = registry.snapshot(second)
    assert snap.status == "completed" and snap.progress == 1.0 and len(snap.epochs) == 2
    assert snap.start.params == 77754 and snap.start.device == "cpu"
    run = store.get(second)
    assert run.status == "completed" and len(store.epochs(second)) == 2 and store.steps(second)
    assert run.checkpoint and Path(run.checkpoint).exists() and store.misclassified(second)
    assert store.get(first).status == "stopped"
    assert registry.active() == []


def test_the_worker_flushes_denormals_in_every_thread_it_computes_on(registry):
    """Set once at the worker's start, before its thread pool exists, so every pool thread has it: a
    run's speed no longer depends on what the process did before (tests/test_app.py's range test took
    8.5 s alone and 108-136 s after other page tests when each run switched flushing on and off)."""
    speed = registry.speed("cpu", wait=60)
    slot = registry.slots["cpu"][0]
    assert slot.denormals_flushed is True and speed is not None  # measured by a flushing worker
    assert os.getpriority(os.PRIO_PROCESS, slot.pid) >= os.getpriority(os.PRIO_PROCESS, 0) + 10  # pages first


def test_only_ended_runs_are_deleted_and_then_forgotten(registry):
    store = registry.store
    assert wait_until(lambda: not registry.active())  # an earlier test's runs have settled
    running, *others = (registry.submit(MINI, LONG, "long").run_id for _ in range(registry.per_device))
    queued = registry.submit(MINI, QUICK, "next").run_id  # every worker is busy: it waits
    assert not registry.delete(running, lecturer=True) and not registry.delete(queued, lecturer=True)
    registry.stop(queued, lecturer=True)  # a queued run stopped at once has ended
    assert registry.delete(queued, lecturer=True) and store.get(queued) is None and registry.snapshot(queued) is None
    assert wait_until(lambda: registry.snapshot(running).steps)  # it has trained a little
    for run in (running, *others):
        registry.stop(run, lecturer=True)
    assert all(registry.wait(run, SETTLE_SECONDS) for run in others)
    assert registry.wait(running, SETTLE_SECONDS)
    checkpoint = Path(store.get(running).checkpoint)  # a stopped run keeps its weights
    assert checkpoint.exists() and registry.delete(running, lecturer=True)
    assert store.get(running) is None and registry.snapshot(running) is None and not checkpoint.exists()


def test_a_run_belongs_to_its_key_its_person_and_the_lecturer(registry):
    alice, bob = Submitter("alice"), Submitter("bob")
    mine = registry.submit(MINI, LONG, "alice's", by=alice)
    assert registry.may_control(mine.run_id, mine.key, lecturer=False)
    assert registry.may_control(mine.run_id, None, lecturer=False, owner="alice")  # her other tab, no key
    assert not registry.may_control(mine.run_id, None, lecturer=False)
    assert not registry.may_control(mine.run_id, None, lecturer=False, owner="bob")
    assert not registry.may_control(mine.run_id, "a guess", lecturer=False, owner="")
    assert not registry.may_control(mine.run_id + 1000, None, lecturer=False, owner="alice")  # no such run
    assert not registry.stop(mine.run_id, key="a guess")  # bob cannot stop it
    assert registry.snapshot(mine.run_id).status in ("queued", "running")
    theirs = registry.submit(MINI, QUICK, "bob's", by=bob)
    assert not registry.stop(theirs.run_id, key=mine.key, owner="alice")  # nor alice his
    assert registry.stop(mine.run_id, key=mine.key)  # she can stop her own
    assert registry.wait(mine.run_id, SETTLE_SECONDS) and registry.wait(theirs.run_id, SETTLE_SECONDS)
    assert not registry.delete(theirs.run_id, key=mine.key) and registry.store.get(theirs.run_id) is not None
    assert registry.delete(theirs.run_id, lecturer=True)  # the lecturer may delete anyone's
    assert not registry.delete(mine.run_id, owner="bob") and registry.delete(mine.run_id, owner="alice")


def test_quotas_per_person_and_for_the_whole_queue(registry, settings):
    settings(runs_per_person=2, queue_size=5)
    jobs = registry
    student, other = Submitter("student"), Submitter("other")
    assert wait_until(lambda: not jobs.active())  # the queue's count starts empty
    before = len(jobs.store.list())
    jobs.submit(MINI, LONG, "one", by=student)
    jobs.submit(MINI, LONG, "two", by=student)
    with pytest.raises(BudgetError, match=r"^runs_per_person: you have 2 run\(s\) queued or running, in all your tabs"):
        jobs.submit(MINI, QUICK, "three", by=student)
    with pytest.raises(BudgetError, match="asked for 3 more; each person may have 2 at once"):
        jobs.submit_all([(n, MINI, QUICK) for n in "abc"], "an experiment", by=other)  # all or none
    jobs.submit(MINI, LONG, "three", by=other)
    jobs.submit_all([(n, MINI, LONG) for n in "ab"], "the lecturer's", by=LECTURER)  # no per-person quota
    with pytest.raises(BudgetError, match=r"^queue_size: the server's queue holds 5 .* allows 5; try again"):
        jobs.submit(MINI, QUICK, "six", by=LECTURER)  # the queue is the server's: the lecturer's too
    assert len(jobs.store.list()) == before + 5  # nothing refused was recorded
    for snap in jobs.active():
        jobs.stop(snap.id, lecturer=True)
    assert wait_until(lambda: not jobs.active())
    room = jobs.submit_all([("a", MINI, QUICK), ("b", MINI, QUICK)], "an experiment", by=student)
    for sub in room:
        assert jobs.stop(sub.run_id, key=sub.key) and jobs.wait(sub.run_id, SETTLE_SECONDS)


def test_new_tabs_are_not_new_people_the_address_is_counted(registry, settings):
    """Issue 22: one person filled the queue from new tabs; sessions of one address share a quota."""
    settings(runs_per_person=2, runs_per_address=3, queue_size=50)
    tabs = [Submitter(f"tab{i}", address="10.0.0.7") for i in range(3)]
    subs = [registry.submit(MINI, LONG, "one", by=tabs[0]), registry.submit(MINI, LONG, "two", by=tabs[1])]
    subs.append(registry.submit(MINI, LONG, "three", by=tabs[2]))
    with pytest.raises(BudgetError) as err:
        registry.submit(MINI, QUICK, "four", by=Submitter("tab3", address="10.0.0.7"))
    assert str(err.value).startswith(
        "runs_per_address: 3 run(s) from your computer (10.0.0.7) are queued or running, in all its tabs; "
        "it may have 3 at once"
    )
    subs.append(registry.submit(MINI, QUICK, "a neighbour's", by=Submitter("n", address="10.0.0.8")))
    subs.append(registry.submit(MINI, QUICK, "the machine's own", by=Submitter("local", address=None)))
    for sub in subs:
        assert registry.stop(sub.run_id, key=sub.key) and registry.wait(sub.run_id, SETTLE_SECONDS)


def test_a_students_run_is_capped_by_its_estimated_time_the_lecturers_is_not(registry, settings):
    settings(max_run_minutes=0.5)
    long_run = QUICK.but(epochs=1000)  # resnet-mini on the digits: ~0.2 s an epoch here, ~3 min in all
    with pytest.raises(BudgetError, match=r"^max_run_minutes: its estimated time here is \d+:\d\d; this server"):
        registry.submit(MINI, long_run, "too long", by=Submitter("student"))
    sub = registry.submit(MINI, long_run, "the lecturer's", by=LECTURER)
    assert registry.stop(sub.run_id, lecturer=True) and registry.wait(sub.run_id, SETTLE_SECONDS)


def test_a_worker_past_its_memory_limit_is_stopped_and_says_so(registry, settings):
    settings(worker_memory_gib=0.05)  # far less than a worker with torch loaded holds
    run = registry.submit(MINI, QUICK, "greedy").run_id
    assert registry.wait(run, SETTLE_SECONDS)
    message = registry.snapshot(run).message
    assert registry.snapshot(run).status == "failed" and "of memory, more than its limit of 51.2 MiB" in message
    assert "worker_memory_gib" in message


def test_a_result_that_cannot_be_stored_ends_the_run_failed_and_the_queue_goes_on(registry):
    registry.store.full = 1
    lost = registry.submit(MINI, QUICK.but(epochs=1), "lost").run_id
    kept = registry.submit(MINI, QUICK.but(epochs=1), "kept").run_id
    assert registry.wait(lost, SETTLE_SECONDS) and registry.wait(kept, SETTLE_SECONDS)
    snap = registry.snapshot(lost)
    assert snap.status == "failed"
    assert snap.message == "the run ended (completed) but could not be stored: database or disk is full"
    assert registry.snapshot(kept).status == "completed"  # the next run was not held up
    assert registry.delete(lost, lecturer=True)  # settled, so it can go


def test_a_run_whose_steps_cannot_be_stored_stops_and_says_why(registry):
    registry.store.readonly = True
    try:
        run = registry.submit(MINI, LONG, "unkept").run_id
        assert registry.wait(run, SETTLE_SECONDS)
    finally:
        registry.store.readonly = False
    snap = registry.snapshot(run)
    assert snap.status == "failed"
    assert snap.message == "the run history could not be written (attempt to write a readonly database)"
    assert snap.elapsed < 30  # stopped at once, not trained to its end


def test_a_run_shows_finished_only_once_it_is_stored(registry):
    """A page that sees a run finished reads its results from the store at once: the weights must be
    there by then (before, a page could see 'completed' between the trainer's end and the store's
    write, and show the run without its results)."""
    store = registry.store
    store.writing.clear()
    store.hold = threading.Event()
    try:
        run_id = registry.submit(MINI, QUICK.but(epochs=1), "mini").run_id
        assert store.writing.wait(SETTLE_SECONDS)  # trained; the store's write has begun
        snap = registry.snapshot(run_id)
        assert snap.status == "running" and not snap.finished
    finally:
        store.hold.set()
        store.hold = None
    assert registry.wait(run_id, SETTLE_SECONDS)
    assert registry.snapshot(run_id).status == "completed" and store.get(run_id).checkpoint


def test_a_dataset_that_cannot_be_had_fails_its_run_not_the_queue(registry):
    bad = registry.submit(MINI, QUICK.but(dataset="kmnist"), "offline").run_id
    good = registry.submit(MINI, QUICK.but(epochs=1), "digits").run_id
    assert registry.wait(bad, SETTLE_SECONDS) and registry.wait(good, SETTLE_SECONDS)
    snap = registry.snapshot(bad)
    assert snap.status == "failed" and "could not be downloaded (offline?)" in snap.message
    assert "'digits'" in snap.message and any("Downloading Kuzushiji-MNIST" in line for line in snap.log)
    assert registry.snapshot(good).status == "completed"


def test_a_network_past_the_budget_is_refused_before_anything_is_built(registry):
    huge = explorer.spec_from_dict({**MINI.to_dict(), "stages": [{"blocks": 500, "channels": 8192, "stride": 1}] * 2})
    before = resident_bytes(os.getpid())
    with pytest.raises(BudgetError, match=r"^max_params: its parameter count is 1,20\d,\d{3},\d{3},\d{3}; this server"):
        registry.submit(huge, QUICK, "huge", by=LECTURER)
    assert resident_bytes(os.getpid()) - before < 50 * 2**20 and registry.active() == []


def test_a_killed_worker_fails_its_run_and_a_new_one_takes_the_next(registry):
    doomed = registry.submit(MINI, LONG, "doomed").run_id
    after = registry.submit(MINI, QUICK, "after").run_id
    assert wait_until(lambda: registry.snapshot(doomed).steps)
    worker = next(slot for slot in registry.slots["cpu"] if slot.job_id == doomed)  # one of the two
    os.kill(worker.pid, signal.SIGKILL)
    assert registry.wait(doomed, SETTLE_SECONDS)
    snap = registry.snapshot(doomed)
    assert snap.status == "failed" and "the training process ended unexpectedly (killed by SIGKILL)" in snap.message
    assert registry.store.get(doomed).status == "failed"
    assert registry.wait(after, SETTLE_SECONDS) and registry.snapshot(after).status == "completed"  # in a new worker


def test_several_workers_share_one_queue_and_each_run_goes_to_a_free_one(tmp_path):
    """Two CPU workers (a network and its plain twin side by side), each with its share of the cores."""
    jobs = JobRegistry(RunStore(tmp_path / "runs.sqlite"), settings=Settings())
    try:
        runs = [jobs.submit(MINI, LONG, f"run {i}").run_id for i in range(3)]
        assert wait_until(lambda: all(jobs.snapshot(r).start for r in runs[:2]))
        assert [jobs.snapshot(r).status for r in runs] == ["running", "running", "queued"]
        assert jobs.snapshot(runs[2]).position == 1
        assert len({slot.pid for slot in jobs.slots["cpu"]}) == 2  # two processes, one run each
        assert [slot.threads for slot in jobs.slots["cpu"]] == [max(1, cpu_cores() // 2)] * 2
        jobs.stop(runs[1], lecturer=True)
        assert wait_until(lambda: jobs.snapshot(runs[2]).status == "running")  # the freed worker takes the next
        for run in runs:
            jobs.stop(run, lecturer=True)
    finally:
        jobs.close()


def test_a_worker_that_cannot_start_fails_its_runs_at_once_and_nobody_waits_on_it(tmp_path, monkeypatch):
    import explorer.training.slots

    monkeypatch.setattr(explorer.training.slots.sys, "executable", str(tmp_path / "no-python"))
    monkeypatch.setattr(explorer.training.slots, "MEASURED", {})  # as on a server whose first worker never came up
    monkeypatch.setattr(explorer.training.jobs, "MEASURED", explorer.training.slots.MEASURED)
    jobs = JobRegistry(RunStore(tmp_path / "runs.sqlite"), settings=Settings())
    try:
        run = jobs.submit(MINI, QUICK, "nowhere").run_id
        assert jobs.wait(run, SETTLE_SECONDS)
        snap = jobs.snapshot(run)
        assert snap.status == "failed" and snap.message.startswith("the training process could not start: ")
        assert "no-python" in snap.message and jobs.store.get(run).status == "failed"
        waits = []
        for slot in jobs.slots["cpu"]:
            slot.ready.wait = waits.append  # a wait would be recorded here rather than spent
        assert jobs.speed("cpu", wait=30) is None and waits == []  # said, not waited for
        assert jobs.worker_problem("cpu") == snap.message
    finally:
        jobs.close()
