"""A process-wide job registry: training runs in worker threads, one queue per device.

The app keeps one registry (st.cache_resource) for all browser sessions. Each submitted run gets a
row in the run store (its id is the job id, so `?job=` survives a reload), waits in its device's
queue (one run per device at a time by default), and trains in a worker thread that never touches
the UI. Pages read `snapshot(job_id)`, a copy taken under the job's lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch  # imported here, at module load, never first inside a worker thread

from .data import ImageData, load_dataset, subset
from .devices import pick_device
from .recipe import Recipe
from .runs import RunStore
from .spec import ResNetSpec
from .train import RunResult, Trainer

STEP_POINTS_KEPT = 2000  # enough for a smooth live curve; the store keeps every sampled step


@dataclass
class JobSnapshot:
    id: int
    name: str
    experiment: str | None
    device: str
    status: str  # queued, running, completed, stopped, diverged, failed
    position: int  # 1.. while queued (1 = next), 0 once running or finished
    message: str
    progress: float  # 0..1
    elapsed: float | None
    eta: float | None
    info: dict[str, Any] = field(default_factory=dict)  # the start event: params, steps per epoch, notes
    steps: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # info messages (downloads, adaptations)

    @property
    def finished(self) -> bool:
        return self.status not in ("queued", "running")


class Job:
    def __init__(self, run_id: int, name: str, spec: ResNetSpec, recipe: Recipe, device: str, experiment: str | None):
        self.id, self.name, self.spec, self.recipe = run_id, name, spec, recipe
        self.device, self.experiment = device, experiment
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.status, self.message = "queued", ""
        self.info: dict[str, Any] = {}
        self.steps: deque[dict[str, Any]] = deque(maxlen=STEP_POINTS_KEPT)
        self.epochs: list[dict[str, Any]] = []
        self.log: list[str] = []
        self.progress, self.elapsed, self.eta = 0.0, None, None
        self.done = threading.Event()
        self.outcome: tuple[str, str] | None = None  # the done event's status and message, until stored

    def on_event(self, event: dict[str, Any]) -> None:
        with self.lock:
            kind = event["event"]
            if kind == "info":
                self.log.append(event["message"])
            elif kind == "start":
                self.status, self.info = "running", event
                self.log += [f"adapted: {note}" for note in event["adapted"]]
            elif kind == "step":
                self.steps.append(event)
                self.progress, self.elapsed, self.eta = event["progress"], event["elapsed"], event["eta"]
            elif kind == "epoch":
                self.epochs.append(event)
                self.elapsed, self.eta = event["elapsed"], event["eta"]
            elif kind == "done":
                # shown once the run is stored (settle): a page that sees the run finished reads its
                # results, weights and all, from the store at once
                self.outcome = (event["status"], event["message"])
                self.elapsed, self.eta = event["elapsed"], 0.0

    def settle(self) -> None:
        """The run is stored: its final status shows, and whoever waits on it goes on."""
        with self.lock:
            if self.outcome is not None:
                self.status, self.message = self.outcome
        self.done.set()

    def snapshot(self, position: int) -> JobSnapshot:
        with self.lock:
            return JobSnapshot(
                self.id,
                self.name,
                self.experiment,
                self.device,
                self.status,
                position,
                self.message,
                self.progress if self.status != "completed" else 1.0,
                self.elapsed,
                self.eta,
                dict(self.info),
                list(self.steps),
                list(self.epochs),
                list(self.log),
            )


class JobRegistry:
    def __init__(
        self, store: RunStore, data_dir: str | Path | None = None, per_device: int = 1, datasets_cached: int = 2
    ) -> None:
        self.store = store
        self.data_dir = data_dir
        self.per_device = per_device
        self.lock = threading.Condition()
        self.jobs: dict[int, Job] = {}
        self.queues: dict[str, deque[Job]] = {}
        self.running: dict[str, int] = {}
        self.workers: list[threading.Thread] = []
        self._datasets: OrderedDict[str, ImageData] = OrderedDict()
        self._datasets_cached = datasets_cached
        self._data_lock = threading.Lock()
        self.interrupted = store.mark_interrupted()  # runs a killed server left behind

    # ----- the pages' side -----------------------------------------------------------------
    def submit(self, spec: ResNetSpec, recipe: Recipe, name: str, experiment: str | None = None) -> int:
        """Queue a run; returns its id (the run's id in the store)."""
        device = pick_device(recipe.device).type
        run_id = self.store.create(name, spec.to_json(), recipe.to_json(), experiment)
        job = Job(run_id, name, spec, recipe, device, experiment)
        with self.lock:
            self.jobs[run_id] = job
            self.queues.setdefault(device, deque()).append(job)
            self._start_workers(device)
            self.lock.notify_all()
        return run_id

    def stop(self, job_id: int) -> None:
        """Stop a running job within one step, or take a queued one off its queue."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return
            queue = self.queues.get(job.device, deque())
            if job in queue:
                queue.remove(job)
                message = "stopped before it started"
                job.on_event({"event": "done", "status": "stopped", "message": message, "elapsed": 0.0})
                self.store.set_status(job_id, "stopped", message)
                job.settle()
                return
        job.stop.set()

    def delete(self, run_id: int) -> bool:
        """Delete a run that is not queued or training, from the history and from this registry (so
        no page goes on showing it); returns whether it was deleted."""
        with self.lock:
            job = self.jobs.get(run_id)
            if job is not None and not job.done.is_set():
                return False
            self.jobs.pop(run_id, None)
        self.store.delete(run_id)
        return True

    def position(self, job: Job) -> int:
        with self.lock:
            queue = self.queues.get(job.device, deque())
            return queue.index(job) + 1 if job in queue else 0

    def snapshot(self, job_id: int) -> JobSnapshot | None:
        job = self.jobs.get(job_id)
        return job.snapshot(self.position(job)) if job else None

    def active(self) -> list[JobSnapshot]:
        with self.lock:
            jobs = [j for j in self.jobs.values() if j.status in ("queued", "running")]
        return [job.snapshot(self.position(job)) for job in jobs]

    def wait(self, job_id: int, timeout: float | None = None) -> bool:
        job = self.jobs.get(job_id)
        return job.done.wait(timeout) if job else True

    # ----- the workers' side ------------------------------------------------------------------
    def _start_workers(self, device: str) -> None:
        """One worker thread per allowed concurrent run on each device (called under the lock)."""
        have = sum(1 for t in self.workers if t.name.startswith(f"explorer-{device}-"))
        for i in range(have, self.per_device):
            thread = threading.Thread(target=self._work, args=(device,), name=f"explorer-{device}-{i}", daemon=True)
            self.workers.append(thread)
            thread.start()

    def _work(self, device: str) -> None:
        while True:
            with self.lock:
                while not self.queues.get(device):
                    self.lock.wait()
                job = self.queues[device].popleft()
            self._run(job)

    def dataset(self, name: str, progress: Callable[[str], None] | None = None) -> ImageData:
        """Datasets stay loaded between runs (the degradation experiment trains four in a row)."""
        with self._data_lock:
            if name not in self._datasets:
                self._datasets[name] = load_dataset(name, self.data_dir, progress=progress)
                while len(self._datasets) > self._datasets_cached:
                    self._datasets.popitem(last=False)
            self._datasets.move_to_end(name)
            return self._datasets[name]

    def _run(self, job: Job) -> None:
        def on_event(event: dict[str, Any]) -> None:
            job.on_event(event)
            if event["event"] in ("start", "step", "epoch"):
                self.store.record_event(job.id, event)

        try:
            log = lambda message: job.on_event({"event": "info", "message": message})  # noqa: E731
            data = subset(self.dataset(job.recipe.dataset, log), job.recipe.limit)
            result = Trainer(job.spec, job.recipe, on_event, job.stop, data, self.data_dir).run()
        except Exception as exc:  # a dataset that cannot be had: the run fails, the queue goes on
            result = RunResult("failed", str(exc))
            job.on_event({"event": "done", "status": "failed", "message": str(exc), "elapsed": 0})
        self.store.finish(job.id, result)
        job.settle()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
