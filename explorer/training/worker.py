"""A training worker: one long-lived process per device, started by the job registry (spawn).

The server's own process never trains: a network a student designed is built here, so a run that
dies (killed, out of memory) takes only this process with it. The worker sets its CPU state once,
before any thread pool exists (flush-to-zero and threads; a lower scheduling priority on CPUs so
the pages stay quick), measures its device once (estimate.measure_speed), keeps datasets loaded
between runs, and answers each Order with the run's events and a Finished message. It writes a
run's weights itself (store.save_weights), so they never pass through the server.

Why the CPU state is set here and only here: flush-to-zero and denormals-are-zero live in each
thread's MXCSR register, and OpenMP's pool threads keep the state they were created with. A run
that switched flushing on in its thread and off again at its end left the pool half one way, half
the other (measured: after on and off in one thread, half of a parallel multiply over denormals
was flushed), so the next run's speed depended on what the process had done before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import queue
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .estimate import Speed

log = logging.getLogger(__name__)
LOW_PRIORITY = 10  # nice: the server's page threads win the CPU whenever they want it
DATASETS_KEPT = 2  # the degradation experiment trains four runs in a row on one dataset


def send(conn: Connection, message: Any) -> None:
    """Plain pickle, not multiprocessing's: that one passes tensors as shared-memory handles, which
    only a process multiprocessing started may open."""
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def receive(conn: Connection) -> Any:
    return pickle.loads(conn.recv_bytes())


@dataclass(frozen=True)
class Order:
    """Train this run (the registry to the worker)."""

    run_id: int
    spec_json: str
    recipe_json: str


@dataclass(frozen=True)
class Ready:
    """The worker is set up (the worker to the registry, once)."""

    pid: int
    speed: Speed | None  # None where the server already knew its device's speed
    denormals_flushed: bool  # in every thread of its pool, checked on a parallel multiply


@dataclass(frozen=True)
class Finished:
    """The run ended; its weights, if kept, are in result.checkpoint."""

    run_id: int
    result: Any  # a RunResult without its state_dict


@dataclass(frozen=True)
class Stop:
    """Stop this run within a step (the registry to the worker, at any time)."""

    run_id: int


class _Inbox:
    """Reads the registry's messages on a thread of its own, so that a Stop arrives while the main
    thread trains: orders queue up, a stop marks its run. The pipe's end (the server is gone)
    stops whatever trains and ends the worker."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.orders: queue.Queue[Order | None] = queue.Queue()
        self.stopped_run = -1
        self.server_gone = False
        threading.Thread(target=self._read, name="explorer-worker-inbox", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = receive(self.conn)
            except (EOFError, OSError):
                message = None
            if isinstance(message, Stop):
                self.stopped_run = message.run_id
                continue
            if message is None:
                self.server_gone = True
                self.orders.put(None)
                return
            self.orders.put(message)

    def tell(self, message: Any) -> None:
        """Send the registry a message; a server that is gone stops the run instead."""
        try:
            send(self.conn, message)
        except OSError:
            self.server_gone = True

    def stop_flag(self, run_id: int) -> _StopFlag:
        return _StopFlag(self, run_id)


class _StopFlag:
    """What the trainer checks between steps (it wants an object with is_set())."""

    def __init__(self, inbox: _Inbox, run_id: int) -> None:
        self.inbox, self.run_id = inbox, run_id

    def is_set(self) -> bool:
        return self.inbox.stopped_run == self.run_id or self.inbox.server_gone


def set_process_state(device_type: str, low_priority: bool = True, threads: int | None = None) -> None:
    """The CPU state a training process keeps for its whole life, set before any thread pool
    exists, so that every thread it makes inherits it. `threads`: its share of the cores (one each
    for two workers on two cores: measured there, a run's two OpenMP threads beside another busy
    process took 8x longer per step than one thread, spinning on each other's core)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if device_type == "cpu":
        if low_priority:
            with contextlib.suppress(OSError):  # a process may not be allowed to lower itself
                os.nice(LOW_PRIORITY)
        torch.set_flush_denormal(True)  # tiny gradients as denormals slow CPU math several-fold


def denormals_flushed() -> bool:
    """Whether every thread that computes a large parallel multiply flushes denormals to zero."""
    import torch

    tiny = torch.full((1 << 22,), 1e-39)  # a denormal in float32, over many OpenMP chunks
    return bool(((tiny * 1.0) == 0).all())


class Datasets:
    """Datasets kept loaded between runs (the last DATASETS_KEPT used)."""

    def __init__(self, data_dir: str | None) -> None:
        self.data_dir = data_dir
        self.kept: OrderedDict[str, Any] = OrderedDict()

    def get(self, name: str, progress) -> Any:
        from .data import load_dataset

        if name not in self.kept:
            self.kept[name] = load_dataset(name, self.data_dir, progress=progress)
            while len(self.kept) > DATASETS_KEPT:
                self.kept.popitem(last=False)
        self.kept.move_to_end(name)
        return self.kept[name]


def train_order(order: Order, tell, stop_flag, datasets: Datasets) -> Any:
    """Train one order: its events go to `tell`, `stop_flag.is_set()` is checked between steps; the
    RunResult keeps its state_dict (a local worker writes it here; a Ray worker hands it back)."""
    from ..arch.spec import SpecError, spec_from_json
    from .data import subset
    from .events import InfoEvent
    from .recipe import recipe_from_dict
    from .train import RunResult, Trainer

    spec = spec_from_json(order.spec_json)
    recipe = recipe_from_dict(json.loads(order.recipe_json))
    try:
        data = subset(
            datasets.get(recipe.dataset, lambda message: tell(InfoEvent(message))),
            recipe.limit,
            recipe.test_limit,
        )
    except SpecError as exc:  # a dataset that cannot be had: the run fails, the worker goes on
        return RunResult("failed", str(exc))
    return Trainer(spec, recipe, tell, stop_flag, data).run()


def _train(order: Order, inbox: _Inbox, datasets: Datasets, weights: Path, budget: int | None) -> Any:
    from .runs import StoreError, save_weights

    result = train_order(order, inbox.tell, inbox.stop_flag(order.run_id), datasets)
    if result.state_dict is not None:
        try:
            result.checkpoint = save_weights(weights, order.run_id, result.state_dict, budget)
        except StoreError as exc:
            result.message = f"{result.message}; {exc}"
        except OSError as exc:  # a full disk: the run ends failed, and says why
            result.status, result.message = "failed", f"its weights could not be written: {exc}"
    return replace(result, state_dict=None)


def serve(
    conn: Connection,
    device_type: str,
    index: int,
    checkpoints: Path,
    data_dir: str | None,
    budget: int | None,
    measure: bool,
    threads: int | None = None,
) -> None:
    """The worker's life: set up, say Ready, then train each order until the server goes."""
    set_process_state(device_type, threads=threads)
    import torch

    from .estimate import measure_speed
    from .train import RunResult

    if device_type == "cuda":
        torch.cuda.set_device(index)
    device = torch.device(device_type, index) if device_type == "cuda" else torch.device(device_type)
    try:
        send(conn, Ready(os.getpid(), measure_speed(device) if measure else None, denormals_flushed()))
    except OSError:
        return  # the server went while this worker started
    inbox, datasets = _Inbox(conn), Datasets(data_dir)
    while (order := inbox.orders.get()) is not None:
        try:
            result = _train(order, inbox, datasets, checkpoints, budget)
        except Exception as exc:  # whatever happened, the registry hears how the run ended
            log.exception("run %s failed in the worker", order.run_id)
            result = RunResult("failed", f"{type(exc).__name__}: {exc}")
        inbox.tell(Finished(order.run_id, result))
        if device_type == "cuda":
            torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> None:
    """`python -m explorer.training.worker FD DEVICE INDEX CHECKPOINTS DATA_DIR BUDGET MEASURE THREADS`, as
    the registry starts it: a fresh interpreter that imports nothing of the server's (not even its main
    script, as multiprocessing's spawn would), with one end of a socket pair as its pipe."""
    fd, device_type, index, checkpoints, data_dir, budget, measure, threads = argv or sys.argv[1:]
    budget_bytes = int(budget) if budget else None
    conn = Connection(int(fd))
    serve(
        conn, device_type, int(index), Path(checkpoints), data_dir or None, budget_bytes, measure == "measure",
        int(threads) if threads else None,
    )  # fmt: skip


if __name__ == "__main__":
    # run as explorer.training.worker, not __main__: the messages it pickles must name classes the server knows
    from explorer.training.worker import main as worker_main

    worker_main()
