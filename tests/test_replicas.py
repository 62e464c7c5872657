"""Replicas behave as one server (the `replicated` setting, explorer/training/run_queue.py): two
registries, one in this process and one in a forked process, share one store, on each engine. The
queue, its positions, the quotas, stop requests, the challenge and the lecturer's screen go through
the store; one of them trains what either queues."""

import asyncio
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest

import explorer
from explorer.cli.main import main as cli
from explorer.cli.replicas import config
from explorer.hall.broadcast import Broadcast, LectureTable
from explorer.hall.challenge import ChallengeStore
from explorer.hall.key_tries import StoredKeyTries
from explorer.hall.settings import Settings
from explorer.store import open_engine
from explorer.training.jobs import JobRegistry, Submitter
from explorer.training.recipe import Recipe
from explorer.training.run_queue import StoreQueue
from explorer.training.runs import RunStore

from .browser import free_port, healthy, wait_healthy
from .waits import SETTLE_SECONDS, wait_until

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")
LONG = QUICK.but(epochs=60)  # about ten seconds: long enough to be caught running
ANN = Submitter("ann", address="10.0.0.5")
BOB = Submitter("bob", address="10.0.0.6")
SERVES = Settings(replicated=1, train=0)  # a replica that queues runs and trains none


def _replica(location: str, settings: Settings, conn, per_device: int = 1) -> None:
    """Another replica, in a process of its own: calls what the test sends, ("jobs" or "board",
    method, *args), or reads an attribute, and sends back the answer (an error as its text), until "close"."""
    jobs = JobRegistry(RunStore(location), settings=settings, per_device=per_device)
    objects = {"jobs": jobs, "board": ChallengeStore(jobs.store)}
    while (ask := conn.recv()) != "close":
        target, method, *args = ask
        try:
            value = getattr(objects[target], method)
            conn.send(value(*args) if callable(value) else value)
        except Exception as exc:
            conn.send(f"{type(exc).__name__}: {exc}")
    jobs.close()
    conn.send("closed")


class Other:
    """The other replica, seen from the test: `other("jobs", "snapshot", 3)` asks it."""

    def __init__(self, location: str, settings: Settings) -> None:
        fork = multiprocessing.get_context("fork")  # this process's imports, without importing them again
        self.conn, theirs = fork.Pipe()
        self.process = fork.Process(target=_replica, args=(location, settings, theirs), daemon=True)
        self.process.start()

    def __call__(self, target: str, method: str, *args):
        self.conn.send((target, method, *args))
        assert self.conn.poll(SETTLE_SECONDS)
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send("close")
        assert self.conn.poll(SETTLE_SECONDS) and self.conn.recv() == "closed"
        self.process.join(30)


@pytest.fixture
def other(store_location):
    replica = Other(store_location, SERVES)
    yield replica
    replica.close()


def test_the_queue_positions_quotas_stops_and_the_challenge_are_the_same_on_both(store_location, other):
    here = JobRegistry(RunStore(store_location), settings=SERVES)
    try:
        board = ChallengeStore(here.store)
        challenge = board.start("Digits", "digits", 100_000, 50)
        first = here.submit(MINI, QUICK, "lecturer's").run_id
        anns = here.submit(MINI, QUICK, "ann's", by=ANN).run_id
        assert [other("jobs", "snapshot", r).position for r in (first, anns)] == [1, 2]
        assert other("jobs", "snapshot", anns).status == "queued"
        # ann's second run, there: her quota (2) counts the run she queued here
        second = other("jobs", "submit", MINI, QUICK, "ann's second", None, ANN).run_id
        refused = other("jobs", "submit", MINI, QUICK, "ann's third", None, ANN)
        assert refused.startswith("BudgetError: runs_per_person: you have 2 run(s) queued or running")
        assert [s.id for s in here.active("ann")] == [anns, second] and here.snapshot(second).position == 3
        # only its owner (or the lecturer) stops it, from either replica; a queued run ends at once
        assert other("jobs", "stop", anns, None, False, "bob") is False
        assert other("jobs", "stop", anns, None, False, "ann") is True
        assert (here.snapshot(anns).status, here.snapshot(anns).message) == ("stopped", "stopped before it started")
        assert here.snapshot(second).position == 2 and here.submit(MINI, QUICK, "ann's again", by=ANN).run_id
        assert other("jobs", "delete", second, None, True) is False  # still queued: not deleted
        # an entry there is on the board here
        other("board", "enter", challenge, "Ann", second, 77_754, "ann")
        assert [(s.name, s.run_id) for s in board.standings(challenge)] == [("Ann", second)]
        # a queued run is claimed once, whichever feeding process asks first
        claims = [StoreQueue(RunStore(store_location)).claim(first) for _ in range(2)]
        assert claims == [True, False] and here.snapshot(first).status == "running"
    finally:
        here.close()


def _publish(location: str, pages: list[str]) -> None:
    lectures = Broadcast(LectureTable(open_engine(location)))
    for page in pages:
        lectures.publish(MINI, "resnet-mini", page)
    lectures.close()


def test_a_follower_here_sees_the_lecturer_there(store_location):
    hub = Broadcast(LectureTable(open_engine(store_location)))
    woken = threading.Event()
    hub.subscribe("student", lambda: woken.set() or True)
    try:
        fork = multiprocessing.get_context("fork")
        lecturer = fork.Process(target=_publish, args=(store_location, ["", "", "train"]))
        lecturer.start()
        lecturer.join(60)
        assert lecturer.exitcode == 0
        assert woken.wait(5)  # the watching thread's next look, a fraction of a second
        assert wait_until(lambda: hub.latest().page == "train", 5)
        latest = hub.latest()
        assert (latest.version, latest.spec, latest.base) == (2, MINI, "resnet-mini")  # the same page twice: one
        later = Broadcast(LectureTable(open_engine(store_location)))  # a replica started later
        assert later.latest() == latest
        later.close()
    finally:
        hub.close()


def test_wrong_lecturer_keys_count_on_every_replica(store_location):
    now = [1000.0]
    one, two = (StoredKeyTries(open_engine(store_location), clock=lambda: now[0]) for _ in range(2))
    for _ in range(4):
        one.record_wrong("10.0.0.9")
    two.record_wrong("10.0.0.9")  # the fifth, through another replica
    now[0] += 10.0
    assert (one.wait("10.0.0.9"), two.wait("10.0.0.9"), two.wait("10.0.0.5")) == (50.0, 50.0, 0.0)
    now[0] += 50.0
    assert one.wait("10.0.0.9") == 0.0


def test_a_run_queued_on_one_replica_trains_once_on_the_other_and_stops_from_the_first(home):
    """The feeding replica (the other process, with one worker) trains what this one queues."""
    location = str(home / "runs.sqlite")
    feeder = Other(location, Settings(replicated=1))
    here = JobRegistry(RunStore(location), settings=SERVES)
    try:
        assert wait_until(lambda: feeder("jobs", "feeding"), 10)  # the lock taken at its intake's first look
        long, quick = (here.submit(MINI, recipe, name, by=ANN).run_id for name, recipe in (("l", LONG), ("q", QUICK)))
        assert wait_until(lambda: here.snapshot(long).start is not None and here.snapshot(long).steps)
        assert not here.feeding and here.slots == {}  # trained there, not here: one pool of workers
        assert feeder("jobs", "snapshot", quick).position == here.snapshot(quick).position == 1
        assert here.stop(long, owner="ann")
        assert wait_until(lambda: here.snapshot(long).status == "stopped")
        assert wait_until(lambda: here.snapshot(quick).status == "completed")
        run = here.store.get(quick)
        assert len(here.store.epochs(quick)) == 2 and run.test_acc is not None and run.weights
        assert here.snapshot(quick).progress == 1.0 and here.snapshot(long).message.startswith("stopped")
    finally:
        here.close()
        feeder.close()


def test_serve_replicas_says_in_one_line_what_is_missing_or_wrong(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no haproxy there
    assert cli(["serve", "--replicas", "2"]) == 2
    assert capsys.readouterr().err == (
        "error: serve --replicas needs HAProxy in front of the replicas, and it is not installed: "
        "apt-get install -y haproxy (Debian, Ubuntu), then start again\n"
    )
    assert cli(["serve", "--replicas", "0"]) == 2
    assert capsys.readouterr().err == "error: --replicas: 0 is out of range; allowed 1..64 (about one per core)\n"
    written = config(2, "0.0.0.0", 8501, [9001, 9002])
    assert "    bind 0.0.0.0:8501\n" in written and "    timeout tunnel 1h" in written
    assert "    cookie resnet_explorer_replica insert indirect nocache httponly\n" in written
    assert written.endswith(
        "    server replica1 127.0.0.1:9001 check cookie replica1\n"
        "    server replica2 127.0.0.1:9002 check cookie replica2\n"
    )


async def _design_page(url: str):
    from benchmarks.lecture_load import Session

    session = Session(url)
    page = await session.open()
    await session.close()
    return page


def test_serve_replicas_is_one_address_with_sticky_sessions_and_ctrl_c_stops_all(tmp_path, root):
    """The one test through the proxy: two replicas behind HAProxy, a page over its websocket."""
    if shutil.which("haproxy") is None:
        pytest.skip("HAProxy is not installed (apt-get install haproxy): serve --replicas needs it")
    port = free_port()
    env = {**os.environ, "RESNET_EXPLORER_HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    options = [f"--server.port={port}", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"]
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--replicas", "2", *options], cwd=root,
                            env=env, stdout=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    ports: list[str] = []
    try:
        wait_healthy(url, proc)  # HAProxy starts once both replicas answer
        ports = re.findall(r"server replica\d 127\.0\.0\.1:(\d+)", (tmp_path / "haproxy.cfg").read_text())
        assert len(ports) == 2 and all(healthy(f"http://127.0.0.1:{p}") for p in ports)
        with urllib.request.urlopen(url) as first:
            assert re.match(r"resnet_explorer_replica=replica[12]; path=/; HttpOnly", first.headers["Set-Cookie"])
        page = asyncio.run(_design_page(url))  # Streamlit's websocket, through the proxy
        assert "Parameters" in page.metrics and page.exceptions == []
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(60)
    assert proc.returncode == 0 and not healthy(url) and not any(healthy(f"http://127.0.0.1:{p}") for p in ports)
