"""Training on a Ray cluster: the job registry's slots, each a Ray actor instead of a local process.

Chosen by the `ray_address` setting (explorer/hall/settings.py; docs/gpu-server.md, "A GPU cluster
through Ray"). A RaySlot offers what a local Slot offers (explorer/training/slots.py): start, follow a
run to its end, stop it within a step, close. Its actor lives on whichever node Ray places it (one GPU
each, `num_gpus=1`, or a few cores for a CPU run), keeps its datasets loaded between runs as a local
worker does, and trains each order with the local worker's own code (worker.train_order). Its events
wait in the actor until the slot's feeding thread collects them, every POLL seconds: live curves, the
store's records, stop and delete work as with local workers. The weights come back with the result and
the server writes them (a node's disk is not the server's). An actor that dies (its process killed,
its node lost) ends its run failed, saying so, and the next run gets a new actor.

`ray` is imported only here and only when the setting names a cluster: explorer imports without it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..hall.budget import Limits
from ..hall.settings import how_to_set
from .devices import pick_device
from .events import Event
from .recipe import RecipeError
from .slots import MEASURED, POLL, START_TIMEOUT, WorkerStartError
from .train import RunResult
from .worker import Order, Ready

# Cores one CPU run takes on the cluster (torch's threads): at most this, fewer where a node has fewer
# than per_device runs' worth, as the local workers split a machine's cores.
CPUS_PER_RUN = 4
REACH_TIMEOUT = 5.0  # s: a cluster address that does not answer in this is down (ray.init would retry for minutes)
CALLS_AT_ONCE = 3  # an actor's calls in flight together: a run's training, its events collected, a stop
RESOURCES_KEPT = 30.0  # s: how long the cluster's GPU count is taken as known
ANSWER_TIMEOUT = 60.0  # s: an actor that does not hand over its events in this is lost with its node
# Ray 2.52 on turns token authentication on for clusters it starts; a driver that names the address
# sends its token only where this is "token" (ray/_private/worker.py: an explicit address never
# enables it by itself). Measured here: without it, ray.init retried for 20 s and failed.
AUTH_MODE = "RAY_AUTH_MODE"
_connecting = threading.Lock()
_failures: dict[str, tuple[float, WorkerStartError]] = {}  # address -> when it last failed, and why


def _unreachable(address: str, why: str) -> WorkerStartError:
    return WorkerStartError(
        f"The Ray cluster at {address} (ray_address) cannot be reached: {why}; start it (ray start --head) "
        f"or clear {how_to_set('ray_address')} to train on this machine"
    )


def _check_reachable(address: str) -> None:
    """A TCP connection to HOST:PORT first: against an address where nothing listens, ray.init tries
    for minutes (measured here: still trying after 120 s) before it gives up."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), REACH_TIMEOUT).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or type(exc).__name__) from None


def connect(address: str) -> ModuleType:
    """The `ray` module, connected to the cluster (once per process: a Ray already started in this
    process, as the tests' local instance, is used as it is). WorkerStartError, in one sentence,
    if ray is not installed or the cluster cannot be reached."""
    try:
        import ray
    except ImportError:
        raise WorkerStartError(
            f"ray_address is {address!r} but the ray package is not installed here: pip install -e .[ray], "
            f"or clear {how_to_set('ray_address')} to train on this machine"
        ) from None
    with _connecting:
        if ray.is_initialized():
            return ray
        if (failed := _failures.get(address)) and time.monotonic() - failed[0] < RESOURCES_KEPT:
            raise failed[1]  # said a moment ago: a refusing cluster took ray.init 20 s to say it
        try:
            if address != "auto":
                _check_reachable(address)
            _init(ray, address)
        except WorkerStartError as exc:
            _failures[address] = (time.monotonic(), exc)
            raise
    return ray


def _init(ray: ModuleType, address: str) -> None:
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:  # ValueError: ray:// without ray[client]
        why = str(exc).split(". ")[0]
        if isinstance(exc, ConnectionError) and address != "auto" and AUTH_MODE not in os.environ:
            # it answered (checked before) but refused: Ray's token, most likely
            why += f" (Ray's token authentication needs {AUTH_MODE}=token and the head's ~/.ray/auth_token here)"
        raise _unreachable(address, why) from None


class TrainingActor:
    """A training worker on a Ray node (wrapped by ray.remote in RaySlot.start). Threaded
    (max_concurrency): its events and a stop are handed over while a run trains."""

    def __init__(self, device_type: str, threads: int | None, data_dir: str | None) -> None:
        from .worker import Datasets, set_process_state

        set_process_state(device_type, threads=threads)
        self.device_type, self.threads = device_type, threads
        self.datasets = Datasets(data_dir)
        self.lock = threading.Lock()
        self.events: list[Event] = []
        self.stopped_run = -1

    def _thread_state(self) -> None:
        """Flush-to-zero in the calling thread too: a threaded actor runs each call in a thread of its
        pool, not the one __init__ set up (a thread's MXCSR is its own; explorer/training/worker.py)."""
        import torch

        if self.device_type == "cpu":
            torch.set_flush_denormal(True)

    def ready(self, measure: bool) -> Ready:
        from .estimate import measure_speed
        from .worker import denormals_flushed

        self._thread_state()
        device = pick_device(self.device_type)
        return Ready(os.getpid(), measure_speed(device) if measure else None, denormals_flushed())

    def train(self, order: Order) -> RunResult:
        """Train the order; the result keeps its state_dict (on the CPU), for the server to write."""
        from .worker import train_order

        self._thread_state()
        flag = _StopFlag(self, order.run_id)
        try:
            return train_order(order, self._tell, flag, self.datasets)
        except Exception as exc:  # whatever happened, the server hears how the run ended
            return RunResult("failed", f"{type(exc).__name__}: {exc}")
        finally:
            if self.device_type == "cuda":
                import torch

                torch.cuda.empty_cache()

    def _tell(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def take_events(self) -> list[Event]:
        with self.lock:
            events, self.events = self.events, []
        return events

    def stop(self, run_id: int) -> None:
        self.stopped_run = run_id


class _StopFlag:
    """What the trainer checks between steps."""

    def __init__(self, actor: TrainingActor, run_id: int) -> None:
        self.actor, self.run_id = actor, run_id

    def is_set(self) -> bool:
        return self.actor.stopped_run == self.run_id


class RaySlot:
    """One run at a time on the cluster: a TrainingActor, started on first use and after a loss."""

    def __init__(self, address: str, device_type: str, index: int, data_dir: str | None, threads: int | None) -> None:
        self.address, self.device_type, self.index = address, device_type, index
        self.data_dir, self.threads = data_dir, threads
        self.name = f"ray-{device_type}:{index}"
        self.actor: Any = None
        self.ready = threading.Event()
        self.job_id: int | None = None
        self.start_error: str | None = None
        self.denormals_flushed: bool | None = None
        self.pid: int | None = None  # the actor's process, on its node

    @property
    def started(self) -> bool:
        """Whether it has an actor (one that was lost is dropped: the next run that waits starts one)."""
        return self.actor is not None

    alive = started  # an actor known lost is dropped at once

    def start(self) -> None:
        """Place an actor on the cluster and wait until it is set up (Ray queues it until a node has
        a free GPU, or the cores): WorkerStartError if that takes over START_TIMEOUT."""
        ray = connect(self.address)
        resources = {"num_gpus": 1, "num_cpus": 1} if self.device_type == "cuda" else {"num_cpus": self.threads}
        actor_class = ray.remote(max_concurrency=CALLS_AT_ONCE, **resources)(TrainingActor)
        self.actor = actor_class.remote(self.device_type, self.threads, self.data_dir)
        try:
            ready = ray.get(self.actor.ready.remote(self.device_type not in MEASURED), timeout=START_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            self.kill()
            raise WorkerStartError(
                f"the Ray cluster at {self.address} started no {self.device_type} training worker within "
                f"{START_TIMEOUT:.0f} s (are its {'GPUs' if self.device_type == 'cuda' else 'cores'} all taken?)"
            ) from None
        except ray.exceptions.RayError as exc:
            self.kill()
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            raise WorkerStartError(
                f"a training worker could not start on the Ray cluster ({type(exc).__name__}: {first_line})"
            ) from None
        if ready.speed is not None:
            MEASURED.setdefault(self.device_type, ready.speed)
        self.pid, self.denormals_flushed = ready.pid, ready.denormals_flushed
        self.ready.set()

    def kill(self) -> None:
        if self.actor is not None:
            with contextlib.suppress(Exception):  # an actor already gone is what was asked for
                connect(self.address).kill(self.actor, no_restart=True)
        self.actor, self.pid = None, None

    close = kill  # the server is going: the cluster's GPU is given back

    def stop(self, job_id: int) -> None:
        if (actor := self.actor) is not None:  # read once: a loss may drop it meanwhile
            actor.stop.remote(job_id)

    def follow(self, order: Order, on_event: Callable[[Event], None], stopped: Callable[[], bool]) -> RunResult:
        """Hand the actor a run and relay its events until it ends; failed, saying so, if the actor
        (or its node) is lost on the way."""
        ray = connect(self.address)
        self.job_id = order.run_id
        try:
            result = self.actor.train.remote(order)
            if stopped():
                self.stop(order.run_id)
            while True:
                ended, _ = ray.wait([result], timeout=POLL)
                for event in ray.get(self.actor.take_events.remote(), timeout=ANSWER_TIMEOUT):
                    on_event(event)
                if ended:
                    return ray.get(result)
        except ray.exceptions.RayError as exc:
            self.kill()
            return RunResult(
                "failed",
                f"the Ray worker training it was lost ({type(exc).__name__}: its process or its node ended); "
                "the next run starts in a new one",
            )
        finally:
            self.job_id = None


class RayCluster:
    """The registry's backend for a Ray cluster: which device a run gets, and the slots that train."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._known: tuple[float, dict[str, float], WorkerStartError | None] | None = None  # when, what, why not

    def _ask(self) -> tuple[dict[str, float], WorkerStartError | None]:
        """The cluster's resources (GPU, CPU: counts), or why it cannot be reached, asked at most every
        RESOURCES_KEPT seconds: every rerun of Train asks which device a run gets, and an address that
        does not answer takes REACH_TIMEOUT to say so."""
        if self._known is None or time.monotonic() - self._known[0] > RESOURCES_KEPT:
            try:
                self._known = (time.monotonic(), connect(self.address).cluster_resources(), None)
            except WorkerStartError as exc:
                self._known = (time.monotonic(), {}, exc)
        return self._known[1], self._known[2]

    def device_type(self, name: str) -> str:
        """The cluster's device for a recipe's `device`: its GPUs for auto where it has any."""
        gpus = self._ask()[0].get("GPU", 0)
        if name == "cuda" and not gpus:
            raise RecipeError("device", f"cuda was asked for but the Ray cluster at {self.address} has no GPU")
        if name in ("auto", "cuda"):
            return "cuda" if gpus else "cpu"
        return pick_device(name).type

    def slots(
        self, device: str, checkpoints: Path, data_dir: str | None, limits: Callable[[], Limits], per_device: int
    ) -> list[RaySlot]:
        """One slot per GPU of the cluster, or per CPUS_PER_RUN cores (counted now: restart the server
        after nodes join); a single slot that says why, where the cluster cannot be reached."""
        if (problem := self._ask()[1]) is not None:  # said a moment ago, as a page asked for the device
            slot = RaySlot(self.address, device, 0, data_dir, None)
            slot.start_error = str(problem)  # nobody waits for a speed this slot cannot measure
            return [slot]
        nodes = [node["Resources"] for node in connect(self.address).nodes() if node["Alive"]]
        if device == "cuda":
            gpus = int(sum(node.get("GPU", 0) for node in nodes))
            return [RaySlot(self.address, device, i, data_dir, None) for i in range(max(1, gpus))]
        # a run's cores must fit on one node: the smallest one's share, as a machine's is split locally
        smallest = int(min((node.get("CPU", 1) for node in nodes), default=1))
        threads = max(1, min(CPUS_PER_RUN, smallest // per_device))
        cores = int(sum(node.get("CPU", 0) for node in nodes))
        return [RaySlot(self.address, device, i, data_dir, threads) for i in range(max(1, cores // threads))]


def check(address: str) -> str:
    """Train one small run on the cluster, as the server would (a temporary run store): what it has
    and how the run ended, in a line. The check docs/gpu-server.md gives after setting a cluster up."""
    import tempfile

    from .. import preset
    from ..hall.settings import Settings
    from .jobs import JobRegistry
    from .recipe import Recipe
    from .runs import RunStore

    resources = connect(address).cluster_resources()
    have = f"{resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs"
    recipe = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")
    with tempfile.TemporaryDirectory() as folder:
        jobs = JobRegistry(RunStore(Path(folder) / "runs.sqlite"), settings=Settings(ray_address=address))
        try:
            run = jobs.submit(preset("resnet-mini"), recipe, "ray check").run_id
            jobs.wait(run)
            snap = jobs.snapshot(run)
        finally:
            jobs.close()
    where = snap.start.device if snap.start else snap.device
    ending = f"{snap.status} in {snap.elapsed or 0:.1f} s ({snap.message})"
    return f"The Ray cluster at {address} has {have}; a test run (resnet-mini, digits, two epochs) on {where}: {ending}"


if __name__ == "__main__":  # python -m explorer.training.ray_backend ADDRESS
    import sys

    # this module's own names, not __main__'s: the actor class Ray ships must be importable on the nodes
    from explorer.training.ray_backend import check as check_cluster

    try:
        print(check_cluster(sys.argv[1] if len(sys.argv) > 1 else "auto"))
    except WorkerStartError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
