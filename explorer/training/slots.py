"""A worker process seen from the server: start it, hand it a run, follow the run to its end.

Whatever happens to the process (killed, past its memory limit, a broken pipe), following a run
returns a RunResult: the registry always has an ending to store, and the next run gets a new
process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

from .. import fmt
from ..hall.budget import Limits
from ..hall.settings import Settings, how_to_set
from .devices import pick_device
from .estimate import Speed
from .events import Event
from .train import RunResult
from .worker import Finished, Order, Stop, receive, send

ROOT = str(Path(__file__).resolve().parents[2])  # where `explorer` imports from
# A device's speed, measured by the first worker a server process starts for it: a worker started
# after another died does not measure again (1.5 s of CPU on two cores).
MEASURED: dict[str, Speed] = {}
START_TIMEOUT = 180.0  # s: importing torch and measuring the device; minutes on a cold GPU
POLL = 0.25  # s between looks at a silent worker (alive? within its memory?)


class WorkerStartError(RuntimeError):
    """A training worker cannot start, in a sentence its device's runs fail with (and the app shows)."""


def cpu_cores() -> int:
    """The cores this process may run on (a container's share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def resident_bytes(pid: int) -> int:
    """A process's resident memory (Linux /proc; 0 where it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class Slot:
    """One device's worker process (cpu, or one GPU), with its pipe and its stop value."""

    def __init__(
        self,
        device_type: str,
        index: int,
        checkpoints: Path,
        data_dir: str | None,
        limits: Callable[[], Limits],
        threads: int | None = None,
        device_index: int = 0,
    ) -> None:
        self.device_type, self.index = device_type, index
        self.threads = threads  # its share of the CPU cores (None: torch's default)
        self.device_index = device_index  # which GPU, for a cuda worker
        self.name = f"{device_type}:{index}"
        self.checkpoints, self.data_dir, self.limits = checkpoints, data_dir, limits
        self.process: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.denormals_flushed: bool | None = None
        self.ready = threading.Event()
        self.job_id: int | None = None  # the run it trains now
        self.start_error: str | None = None  # why the last start failed
        self.over_memory: int | None = None  # bytes it was seen using when stopped for it

    @property
    def started(self) -> bool:
        """Whether it was ever started (a worker that died is started again for the next run)."""
        return self.process is not None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start the worker (a fresh interpreter: no thread, lock, module or CPU state of the
        server's comes along) and wait until it has measured its device."""
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
        budget = self.limits().checkpoint_bytes
        measure = "measure" if self.device_type not in MEASURED else "known"
        args = [str(theirs.fileno()), self.device_type, str(self.device_index), str(self.checkpoints)]
        args += [self.data_dir or "", str(budget) if budget else "", measure, str(self.threads or "")]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "explorer.training.worker", *args],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        if not self.conn.poll(START_TIMEOUT):
            self.kill()
            raise WorkerStartError(f"the training process did not start within {START_TIMEOUT:.0f} s")
        ready = receive(self.conn)  # EOFError if it died while starting
        if ready.speed is not None:
            MEASURED[self.device_type] = ready.speed
        self.denormals_flushed = ready.denormals_flushed
        self.ready.set()

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(OSError):
                self.process.kill()
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)

    def close(self) -> None:
        """End the worker (the server is going): nothing in it is kept beyond a run, and a run cut
        short here is marked interrupted at the next start."""
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
        self.kill()

    def stop(self, job_id: int) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                send(self.conn, Stop(job_id))

    def follow(self, order: Order, on_event: Callable[[Event], None], stopped: Callable[[], bool]) -> RunResult:
        """Hand the worker a run and relay its events until it ends; how the process ended if it
        died on the way. `stopped` says whether a stop was asked before the worker had the run."""
        self.job_id, self.over_memory = order.run_id, None
        try:
            send(self.conn, order)
            if stopped():
                self.stop(order.run_id)
            next_look = time.monotonic() + POLL
            while True:
                if self.conn.poll(POLL):
                    message = receive(self.conn)
                    if isinstance(message, Finished):
                        return message.result
                    on_event(message)
                if time.monotonic() < next_look:
                    continue
                # every POLL seconds, however busy the pipe: is it alive, and within its memory?
                next_look = time.monotonic() + POLL
                if not self.alive:
                    return self._lost()
                if (used := resident_bytes(self.process.pid)) > self.limits().worker_bytes:
                    self.over_memory = used
                    self.kill()
                    return self._lost()
        except (EOFError, OSError):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
            return self._lost()
        finally:
            self.job_id = None

    def _lost(self) -> RunResult:
        """The worker died during a run: the run fails, saying how."""
        if self.over_memory is not None:
            return RunResult(
                "failed",
                f"the training process used {fmt.nbytes(self.over_memory)} of memory, more than its limit of "
                f"{fmt.nbytes(self.limits().worker_bytes)}, and was stopped (raise {how_to_set('worker_memory_gib')})",
            )
        code = self.process.poll()
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
        return RunResult("failed", f"the training process ended unexpectedly ({how}); the next run starts in a new one")


class Backend(Protocol):
    """Where the registry's runs train: which device a recipe gets there, and the slots that train
    them (Slot here, RaySlot in ray_backend.py: start, follow, stop, kill, close)."""

    def device_type(self, name: str) -> str: ...

    def slots(
        self, device: str, checkpoints: Path, data_dir: str | None, limits: Callable[[], Limits], per_device: int
    ) -> list[Slot]: ...


class LocalWorkers:
    """The registry's default backend: worker processes on this machine (the other: ray_backend.py)."""

    def device_type(self, name: str) -> str:
        """This machine's device for a recipe's `device` (auto: its GPU, where it has one)."""
        return pick_device(name).type

    def slots(
        self, device: str, checkpoints: Path, data_dir: str | None, limits: Callable[[], Limits], per_device: int
    ) -> list[Slot]:
        """`per_device` workers per CPU or MPS device, and per GPU; a CPU's cores split between them."""
        import torch

        gpus = torch.cuda.device_count() if device == "cuda" else 1
        threads = max(1, cpu_cores() // per_device) if device == "cpu" else None
        return [
            Slot(device, i, checkpoints, data_dir, limits, threads, device_index=i % gpus)
            for i in range(gpus * per_device)
        ]


def training_backend(settings: Settings) -> Backend:
    """Where runs train: this machine's worker processes, or a Ray cluster's (the ray_address setting)."""
    if settings.ray_address:
        from .ray_backend import RayCluster

        return RayCluster(settings.ray_address)
    return LocalWorkers()
