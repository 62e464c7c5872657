"""A lecture hall against a real `streamlit run app.py`: N students as protocol-level clients.

Each simulated student speaks Streamlit's own protocol over its websocket, as the browser does (a
BackMsg `rerun_script` with the page, the query string and the widget states, answered by
ForwardMsg deltas), without a browser's rendering: what is measured is the server. Each one loads
the Design page, then every few seconds changes the number of classes and times the wait until
the new parameter total (checked against explorer.analyze) arrives. With --train the lecturer
first starts a long CPU run (resnet-mini on the digits) through the Train page, and some students
submit a run of their own at once: their queue positions must be 1, 2, 3... in the order the
server took them, and every run must be in the history at the end.

    python -m benchmarks.lecture_load --students 30 --train
    python -m benchmarks.lecture_load --students 100 --replicas 1 2   # one process, then two behind HAProxy
    python -m benchmarks.lecture_load --students 30 --arrive 0   # the whole class opens the page at once
    python -m benchmarks.lecture_load --quick     # 2 students, 1 s of changes: the server start and seconds

--url measures a server that is already running instead of starting one (not with --train, which
reads the run history in the server's data folder). Prints p50, p95, max and errors, and last
`p95: <seconds> s (a control change to its new total, <N> students[, a CPU run training])`. With
several --replicas counts (`resnet-explorer serve --replicas N`: the students' websockets spread
over the replicas by HAProxy), each count's figures, then the ratio of the first count's p95 to the
last's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

import explorer
from benchmarks.common import parse_args, print_figure
from benchmarks.hostile import HostileTally, hostile, resident_bytes
from explorer.training.runs import RunStore
from tests.browser import free_port, healthy
from tests.browser import stop as stop_server
from tests.waits import wait_until

ROOT = Path(__file__).resolve().parents[1]

LECTURER_KEY = "bench"
SERVER_LOG = "server.log"
POSITION = re.compile(r"Queued on \w+\\?: position (\d+)")  # the status line is escaped Markdown
TIMEOUT = 30.0  # s: an answer slower than this counts as an error


@dataclass
class Page:
    """What one script run drew: widgets by key, texts by kind, and when the awaited text came."""

    widgets: dict[str, str] = field(default_factory=dict)  # key -> the widget's full id
    texts: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    seconds: float | None = None  # until `until` was seen (or the run finished)


class Session:
    """One browser tab, at the protocol level."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("http", "ws") + "/_stcore/stream"
        self.pages: dict[str, str] = {}  # page name -> script hash
        self.ws = None
        self.session_id = ""  # the server's id for this tab (uploads go to /_stcore/upload_file/<it>/...)
        self.timeout = TIMEOUT  # s to wait for the next message

    async def open(self, query: str = "") -> Page:
        self.ws = await connect(self.url, subprotocols=["streamlit"], max_size=None, open_timeout=TIMEOUT)
        return await self.rerun("", query, {})

    async def close(self) -> None:
        await self.ws.close()

    async def rerun(self, page: str, query: str, widgets: dict[str, tuple[str, object]], until=None) -> Page:
        """Rerun `page` (a name, or "" for the default) with these widget values (key -> (proto
        field, value)); read until the script finishes. `until(page)` marks when what was awaited
        arrived."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = query
        state.page_script_hash = self.pages.get(page, "")
        for widget_id, (kind, value) in widgets.items():
            w = state.widget_states.widgets.add()
            w.id = widget_id
            setattr(w, kind, value)
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        drawn = Page()
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(await asyncio.wait_for(self.ws.recv(), self.timeout))
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                self.session_id = forward.new_session.initialize.session_id
            elif kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in forward.navigation.app_pages}
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                _read(forward.delta.new_element, drawn)
                if until and drawn.seconds is None and until(drawn):
                    drawn.seconds = time.perf_counter() - start
            elif kind == "script_finished" and forward.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                if drawn.seconds is None:
                    drawn.seconds = time.perf_counter() - start
                return drawn


def _read(element, drawn: Page) -> None:
    kind = element.WhichOneof("type")
    body = getattr(element, kind)
    if getattr(body, "id", ""):
        drawn.widgets[body.id.rsplit("-", 1)[-1]] = body.id
    if kind == "metric":
        drawn.metrics[body.label] = body.body
    elif kind in ("markdown", "alert", "heading"):
        drawn.texts.append(body.body)
    elif kind == "exception":
        drawn.exceptions.append(f"{body.type}: {body.message}")


@dataclass
class Tally:
    loads: list[float] = field(default_factory=list)
    changes: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    runs: list[tuple[int, int]] = field(default_factory=list)  # (run id, position shown)


def expected_total(classes: int) -> str:
    return f"{explorer.analyze(explorer.preset('d2l-resnet18').with_classes(classes)).total_params:,}"


async def submit_run(session: Session, tally: Tally, epochs: int, lecturer: bool = False) -> None:
    """Through the Train page, as a user would: resnet-mini on the offline digits."""
    page = await session.rerun("Train", "", {})
    ids = page.widgets
    if lecturer and "lecturer_key_typed" in ids:  # (an app before lecturer keys has no such box)
        page = await session.rerun("Train", "", {ids["lecturer_key_typed"]: ("string_value", LECTURER_KEY)})
    page = await session.rerun("Train", "", {page.widgets["t_network"]: ("string_value", "resnet-mini")})
    ids = page.widgets
    form = {
        ids["t_network"]: ("string_value", "resnet-mini"),
        ids["t_dataset"]: ("string_value", "Digits (offline)"),
        ids["t_epochs"]: ("int_value", epochs),
        ids["t_start"]: ("trigger_value", True),
    }
    started = await session.rerun("Train", "", form)  # Start: it queues (or says why not) ...
    page = await session.rerun("Train", "", {})  # ... and the page reruns to follow it
    runs = [int(m.group(1)) for t in page.texts if (m := re.match(r"#*\s*Run (\d+):", t))]
    shown = [int(m.group(1)) for t in page.texts if (m := POSITION.search(t))]
    said = started.texts + page.texts
    errors = [t for t in said if t.startswith("Not started")] + started.exceptions + page.exceptions
    if errors or not runs:
        tally.errors.append(f"submit: {errors or 'no run followed'}")
    elif not lecturer:
        tally.runs.append((runs[0], shown[0] if shown else 0))


async def student(
    url: str, tally: Tally, until: float, interval: float, submits: bool, rng: random.Random, arrive: float
) -> None:
    session = Session(url)
    await asyncio.sleep(rng.uniform(0, arrive))  # a class does not arrive in the same millisecond (--arrive)
    try:
        page = await session.open()
        tally.loads.append(page.seconds)
        classes_id = page.widgets["d_classes"]
        submit_at = time.perf_counter() + rng.uniform(0, 2 * interval) if submits else None
        while time.perf_counter() < until:
            await asyncio.sleep(rng.uniform(0.5 * interval, 1.5 * interval))
            if submit_at and time.perf_counter() >= submit_at:
                submit_at = None
                await submit_run(session, tally, epochs=1)
                page = await session.rerun("Design", "", {})
                classes_id = page.widgets["d_classes"]
            classes = rng.randint(2, 1000)
            want = expected_total(classes)
            arrived = lambda p, want=want: p.metrics.get("Parameters") == want  # noqa: E731
            page = await session.rerun("Design", "", {classes_id: ("int_value", classes)}, until=arrived)
            if page.metrics.get("Parameters") != want or page.exceptions:
                tally.errors.append(f"classes {classes}: {page.metrics.get('Parameters')} {page.exceptions}")
            else:
                tally.changes.append(page.seconds)
    except Exception as exc:  # a dropped connection, a timeout: counted, never hidden
        tally.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        if session.ws is not None:
            await session.close()


def start_server(home: Path, app: Path, address: str = "127.0.0.1", replicas: int = 1) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py`, or with several replicas `resnet-explorer serve --replicas N` (HAProxy in front);
    what the server logs goes to server.log in its data folder (its tracebacks are printed: _report_tracebacks)."""
    port = free_port()
    env = {**os.environ, "RESNET_EXPLORER_HOME": str(home), "RESNET_EXPLORER_LECTURER_KEY": LECTURER_KEY}
    command = (
        ["-m", "streamlit", "run", "app.py"] if replicas == 1 else ["-m", "explorer", "serve", f"--replicas={replicas}"]
    )
    server = subprocess.Popen(
        [sys.executable, *command, "--server.headless=true", "--server.port", str(port),
         f"--server.address={address}", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
        cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=(home / SERVER_LOG).open("wb"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    if wait_until(lambda: healthy(url) or server.poll() is not None, 60, poll=0.3) and server.poll() is None:
        return server, url
    server.kill()
    raise SystemExit("streamlit did not start")


async def lecture(url: str, args: argparse.Namespace, bad: HostileTally | None = None) -> Tally:
    tally, rng = Tally(), random.Random(args.seed)
    lecturer = Session(url)
    await lecturer.open()  # the server's first page: imports, the worker's start
    if args.train:  # the lecturer's long CPU run, training throughout
        await submit_run(lecturer, tally, epochs=args.train_epochs, lecturer=True)
    until = time.perf_counter() + args.duration
    submitting = set(rng.sample(range(args.students), args.submitters if args.train else 0))
    await asyncio.gather(
        *(
            student(url, tally, until, args.interval, i in submitting, random.Random(rng.random()), args.arrive)
            for i in range(args.students)
        ),
        *(hostile(url, bad, until, random.Random(rng.random())) for _ in range(args.hostile if bad else 0)),
    )
    await lecturer.close()
    return tally


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


@dataclass
class Outcome:
    tally: Tally
    bad: HostileTally
    stored: dict = field(default_factory=dict)  # run id -> RunRecord
    trained: int = 0  # epochs of the lecturer's run
    idle_rss: int = 0  # the server's memory after the first page, bytes
    peak_rss: int = 0
    tracebacks: list[str] = field(default_factory=list)  # from the server's log: each one a bug


def tracebacks(log: str) -> list[str]:
    """The tracebacks in a server's log, each from its first line to its exception's line."""
    found = []
    for block in re.split(r"\n(?=Traceback \(most recent call last\):)", log)[1:]:
        lines = block.splitlines()
        end = next((i for i, line in enumerate(lines) if i and not line.startswith((" ", "Traceback", "\t"))), 0)
        found.append("\n".join(lines[: end + 1]))
    return found


async def _first_page(url: str) -> None:
    session = Session(url)
    await session.open()
    await session.close()


def _watch_memory(pid: int, outcome: Outcome, stop: threading.Event) -> None:
    while not stop.wait(0.1):  # the server's resident memory ten times a second
        outcome.peak_rss = max(outcome.peak_rss, resident_bytes(pid))


def _serve_and_measure(args: argparse.Namespace, replicas: int = 1) -> Outcome:
    outcome = Outcome(Tally(), HostileTally())
    if args.url:
        outcome.tally = asyncio.run(lecture(args.url, args))
        return outcome
    with tempfile.TemporaryDirectory() as home:
        # hostile clients come through the LAN address: the server then listens on every interface
        server, url = start_server(Path(home), args.app, "0.0.0.0" if args.hostile else "127.0.0.1", replicas)
        url = url.replace("0.0.0.0", "127.0.0.1")
        stop = threading.Event()
        try:
            asyncio.run(_first_page(url))  # torch imported, the worker started: the server at rest
            outcome.idle_rss = resident_bytes(server.pid)
            threading.Thread(target=_watch_memory, args=(server.pid, outcome, stop), daemon=True).start()
            outcome.tally = asyncio.run(lecture(url, args, outcome.bad))
            store = RunStore(Path(home) / "runs.sqlite")
            outcome.stored = {run.id: run for run in store.list()}
            outcome.trained = len(store.epochs(min(outcome.stored))) if args.train and outcome.stored else 0
        finally:
            stop.set()
            stop_server(server)
            outcome.tracebacks = tracebacks((Path(home) / SERVER_LOG).read_text(errors="replace"))
    return outcome


def _report_hostile(args: argparse.Namespace, outcome: Outcome) -> None:
    """What the hostile clients did and were refused, and the server's memory against its budget:
    the heavy-work budget, plus one person's uploads (the hostile clients share one address)."""
    if not args.hostile:
        return
    from explorer.hall.budget import limits
    from explorer.hall.settings import load_settings
    from ui.checkpoint import MAX_UPLOAD_MB
    from ui.uploads import MIB, SMALL_FILES_MB

    lim = limits(load_settings())
    uploads = (min(MAX_UPLOAD_MB, lim.build_bytes // MIB) + SMALL_FILES_MB) * MIB
    budget = outcome.idle_rss + lim.server_bytes + uploads
    bad = outcome.bad
    print(
        f"hostile {args.hostile}: "
        + ", ".join(f"{k} {v} ({bad.refused.get(k, 0)} refused)" for k, v in bad.done.items())
    )
    print(f"hostile bugs: {len(bad.bugs)}" + "".join(f"\n  {b}" for b in bad.bugs[:10]))
    within = "within" if outcome.peak_rss <= budget else "OVER"
    print(f"server memory: idle {explorer.fmt.nbytes(outcome.idle_rss)}, peak {explorer.fmt.nbytes(outcome.peak_rss)}; "
          f"budget {explorer.fmt.nbytes(budget)} (idle + heavy work {explorer.fmt.nbytes(lim.server_bytes)} "
          f"+ one person's uploads {explorer.fmt.nbytes(uploads)}): {within}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--hostile", type=int, default=0, help="hostile clients besides (benchmarks/hostile.py)")
    parser.add_argument("--train", action="store_true", help="a CPU run trains meanwhile; some students submit runs")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of changing controls")
    parser.add_argument("--interval", type=float, default=4.0, help="mean seconds between one student's changes")
    parser.add_argument(
        "--arrive",
        type=float,
        help="seconds over which the students open the page (0: all at once; default: --interval)",
    )
    parser.add_argument("--submitters", type=int, default=5, help="students who submit a run (with --train)")
    parser.add_argument("--train-epochs", type=int, default=1000, help="the lecturer's run: long enough to last")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--app", type=Path, default=ROOT, help="the app to serve: another checkout (git worktree) as a baseline"
    )
    parser.add_argument("--url", help="a server already running (http://host:port) instead of starting one")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1], metavar="N",
                        help="serve from N processes behind HAProxy; several counts are measured in turn")  # fmt: skip
    args = parse_args(parser, argv, quick={"students": 2, "duration": 1.0, "interval": 0.3})
    args.arrive = args.interval if args.arrive is None else args.arrive  # a class arrives over one interval
    if args.url and (args.train or args.hostile or args.replicas != [1]):
        parser.error("--train, --hostile and --replicas read or start the server: not with --url")
    if args.hostile and args.replicas != [1]:
        parser.error("--hostile measures one process's memory: with one replica only")
    p95 = {count: _report(args, _serve_and_measure(args, count), count) for count in args.replicas}
    if len(p95) == 1:
        print_figure("p95", p95[args.replicas[0]], " s", _detail(args))
        return 0
    first, last = args.replicas[0], args.replicas[-1]
    each = ", ".join(f"{count}: {seconds:.3f} s" for count, seconds in p95.items())
    print_figure(
        "p95 ratio", p95[first] / p95[last], "x", f"{first} replica(s) over {last}, p95 {each}; {_detail(args)}"
    )
    return 0


def _detail(args: argparse.Namespace) -> str:
    training = ", a CPU run training" if args.train else ""
    hostile_part = f", {args.hostile} hostile" if args.hostile else ""
    return f"a control change to its new total, {args.students} students{hostile_part}{training}"


def _report(args: argparse.Namespace, outcome: Outcome, replicas: int) -> float:
    """Print one server's figures; its p95."""
    tally, stored = outcome.tally, outcome.stored
    if not tally.changes:
        raise SystemExit("no change came back: " + "; ".join(tally.errors[:5]))
    lost = [run_id for run_id, _ in tally.runs if run_id not in stored]
    by_id = sorted(tally.runs)
    positions = [pos for _, pos in by_id]
    # alone, the students' runs are 1, 2, 3...; with hostile tabs' runs queued among them, rising
    # the lecturer's run holds one worker: the first student's run may start at once (0) where a second is free
    first = positions[0] if positions else 0
    consecutive = positions == list(range(first, first + len(positions))) and first in (0, 1)
    positions_right = positions == sorted(set(positions)) if args.hostile else consecutive
    print(f"{replicas} replica(s): students {args.students}, {args.duration:.0f} s, "
          f"a change every ~{args.interval:g} s each"
          + (f", a CPU run training, {len(tally.runs)} runs submitted by students" if args.train else ""))  # fmt: skip
    print(f"page loads: {len(tally.loads)} within {args.arrive:g} s, p50 {statistics.median(tally.loads):.3f} s, "
          f"p95 {percentile(tally.loads, 95):.3f} s, max {max(tally.loads):.3f} s")  # fmt: skip
    print(f"changes: {len(tally.changes)}, p50 {statistics.median(tally.changes):.3f} s, "
          f"p95 {percentile(tally.changes, 95):.3f} s, max {max(tally.changes):.3f} s")  # fmt: skip
    if args.train:
        print(f"the lecturer's CPU run: {outcome.trained} epochs trained meanwhile ({stored[min(stored)].status})")
        print(f"runs: {len(tally.runs)} submitted, {len(lost)} lost, queue positions "
              f"{[pos for _, pos in by_id]} {'right' if positions_right else 'WRONG'}")  # fmt: skip
    print(f"errors: {len(tally.errors)}" + "".join(f"\n  {e}" for e in tally.errors[:10]))
    print(f"server tracebacks: {len(outcome.tracebacks)}" + "".join(f"\n{t}" for t in outcome.tracebacks[:3]))
    _report_hostile(args, outcome)
    return percentile(tally.changes, 95)


if __name__ == "__main__":
    raise SystemExit(main())
