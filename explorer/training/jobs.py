"""The job registry: one queue per device kind, training in worker processes, runs with owners.

The app keeps one registry (st.cache_resource) for all browser sessions. A submitted run is
checked against the budgets and quotas first (explorer/hall/budget.py), gets a row in the run store
(its id is the job id, so `?job=` survives a reload) and a random key (only its hash is stored):
stopping or deleting it takes that key, or the lecturer. It waits in its device kind's queue and
trains in a worker process (explorer/training/worker.py), one per CPU and one per GPU, each taking the next
run as it becomes free: on a machine with several GPUs a run goes to whichever is free first. A
thread per worker relays the run's events into the store and into the Job that pages read
(`snapshot(job_id)`, a copy taken under the job's lock), and settles the run however it ends.
With replicas (the `replicated` setting) the queue, quotas and stop requests are the store's
instead (run_queue.py), and one process feeds the machine's workers (intake.py).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import statistics
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch  # noqa: F401 - imported here, at module load, never first inside a worker thread

from ..arch.spec import ResNetSpec
from ..hall.budget import Limits, TrainingCost, check_training, limits, training_cost
from ..hall.settings import Settings, load_settings
from .estimate import Speed
from .events import EpochEvent, Event, StartEvent, StepEvent
from .intake import Intake
from .job import ACTIVE, Job, JobSnapshot
from .quotas import LECTURER, Submitter, check_quotas
from .recipe import Recipe
from .run_queue import STOPPED_QUEUED, FeederLock, NewRun, StoreQueue
from .runs import RunStore, StoreError, key_hash
from .slots import MEASURED, Slot, WorkerStartError, cpu_cores, training_backend
from .train import RunResult
from .worker import Order

log = logging.getLogger(__name__)
# Worker processes per device (per GPU on cuda): a network and its plain twin train side by side,
# from their first step (He et al.'s comparison, live), and an experiment's runs two at a time.
# On a CPU the cores are split between them, one thread each on two cores (worker.set_process_state).
WORKERS_PER_DEVICE = 2
# A worker measures its device once, in a second and a half: a machine busy at that moment, or a
# real run's costs beyond the probe's (preparing batches, testing), would skew every estimate for the
# server's life. So each finished run's measured time per image, against what the probe predicted
# for it, corrects the estimates of the runs after it (the median of the last few).
CALIBRATION_RUNS = 5


__all__ = ["LECTURER", "JobRegistry", "Submission", "Submitter", "cpu_cores"]


@dataclass(frozen=True)
class Submission:
    run_id: int
    key: str  # what stopping, deleting or retraining the run takes; given once, stored as a hash


class JobRegistry:
    def __init__(
        self,
        store: RunStore,
        data_dir: str | Path | None = None,
        per_device: int = WORKERS_PER_DEVICE,
        settings: Settings | None = None,
    ) -> None:
        self.store = store
        self.data_dir = str(data_dir) if data_dir else None
        self.per_device = per_device  # worker processes per CPU or MPS device, and per GPU
        self.settings = settings or load_settings()
        self.lock = threading.Condition()
        self.jobs: dict[int, Job] = {}
        self.queues: dict[str, deque[Job]] = {}
        self.slots: dict[str, list[Slot]] = {}
        self._limits: dict[str, Limits] = {}
        self.calibration: dict[str, deque[float]] = {}  # per device: finished runs' measured / probe's
        self.eager: set[str] = set()  # devices whose every worker starts now, not at its first run
        self.closed = False
        self.backend = training_backend(self.settings)
        store.mark_interrupted()  # runs a killed server left behind
        self.shared = StoreQueue(store) if self.settings.replicated else None  # the replicas' queue
        self.feeder = FeederLock(store.engine.folder)
        if self.shared is not None:
            if self.settings.train:
                self.feeder.take()  # the first replica to start feeds; the others try again at each look
            threading.Thread(target=Intake(self).run, name="explorer-intake", daemon=True).start()

    @property
    def feeding(self) -> bool:
        """Whether this process trains runs: always, alone; with replicas, the one holding the feeder lock."""
        return self.shared is None or self.feeder.fd is not None

    # ----- budgets, speed ------------------------------------------------------------------------
    def limits(self, device: str = "cpu") -> Limits:
        if device not in self._limits:
            self._limits[device] = limits(self.settings, device)
        return self._limits[device]

    def speed(self, device: str = "cpu", wait: float = 0.0) -> Speed | None:
        """The device kind's measured speed (once per server process): the first ask starts its
        worker, which measures it. None until then, unless `wait` seconds are allowed for it."""
        slots = self._slots(device)  # none on a replica that does not feed the workers
        if slots and device not in MEASURED and slots[0].start_error is None:  # no waiting on one that cannot start
            slots[0].ready.wait(wait)
        measured = MEASURED.get(device) or (self.shared.speed(device) if self.shared else None)
        return measured.scaled(self.calibration_factor(device)) if measured else None

    def calibration_factor(self, device: str) -> float:
        """How much slower than the probe predicted this device's recent runs trained (1: no run yet)."""
        with self.lock:
            ratios = list(self.calibration.get(device, ()))
        return statistics.median(ratios) if ratios else 1.0

    def worker_problem(self, device: str = "cpu") -> str | None:
        """Why the device's worker cannot start, if it cannot (its runs fail with the same words)."""
        return next((s.start_error for s in self.slots.get(device, []) if s.start_error), None)

    def cost(self, spec: ResNetSpec, recipe: Recipe, by: Submitter, wait: float = 0.0) -> TrainingCost:
        """The run's cost, its time estimated at the device's measured speed (`wait` seconds allowed
        for a first worker to measure it), checked: BudgetError if this server should not train it."""
        device = self.backend.device_type(recipe.device)
        speed = self.speed(device, wait)
        cost = training_cost(spec, recipe, speed)
        check_training(cost, recipe, self.limits(device), capped_time=not by.lecturer)
        return cost

    # ----- the pages' side -----------------------------------------------------------------------
    def submit(
        self, spec: ResNetSpec, recipe: Recipe, name: str, experiment: str | None = None, by: Submitter = LECTURER
    ) -> Submission:
        """Queue a run; its id and key. BudgetError (naming the limit) if it does not fit."""
        return self.submit_all([(name, spec, recipe)], experiment, by)[0]

    def submit_all(
        self, runs: Iterable[tuple[str, ResNetSpec, Recipe]], experiment: str | None = None, by: Submitter = LECTURER
    ) -> list[Submission]:
        """Queue several runs (an experiment) at once, or none of them if any does not fit."""
        runs = list(runs)
        # a student's time cap needs the measured speed: a new worker's first seconds
        costs = [self.cost(spec, recipe, by, wait=0.0 if by.lecturer else 60.0) for _, spec, recipe in runs]
        devices = [self.backend.device_type(recipe.device) for _, _, recipe in runs]
        if self.shared is not None:
            return self._submit_shared(runs, devices, experiment, by)
        with self.lock:
            check_quotas([job for job in self.jobs.values() if job.status in ACTIVE], len(runs), by, self.limits())
            out = []
            for (name, spec, recipe), device, cost in zip(runs, devices, costs, strict=True):
                key = secrets.token_urlsafe(12)
                run_id = self.store.create(name, spec.to_json(), recipe.to_json(), experiment, "queued", by.owner,
                                           key, device, by.address)  # fmt: skip
                job = Job(run_id, name, spec, recipe, device, experiment, by.owner)
                self.enqueue(job, by.address, cost)
                out.append(Submission(run_id, key))
        for device in set(devices):
            self._slots(device)
        return out

    def enqueue(self, job: Job, address: str | None, cost: TrainingCost) -> None:
        """Queue a job for this process's workers (submitted here, or taken in from the replicas' queue)."""
        job.address = address
        job.expected_per_image = cost.estimate.per_image if cost.estimate else None
        job.calibration = self.calibration_factor(job.device)
        with self.lock:
            self.jobs[job.id] = job
            self.queues.setdefault(job.device, deque()).append(job)
            self.lock.notify_all()

    def _submit_shared(
        self, runs: list[tuple[str, ResNetSpec, Recipe]], devices: list[str], experiment: str | None, by: Submitter
    ) -> list[Submission]:
        """Queue runs in the store the replicas share, counting every replica's runs for the quotas."""
        keys = [secrets.token_urlsafe(12) for _ in runs]
        new = [
            NewRun(name, spec.to_json(), recipe.to_json(), device, experiment, by.owner, by.address, key)
            for (name, spec, recipe), device, key in zip(runs, devices, keys, strict=True)
        ]
        ids = self.shared.submit(new, lambda held: check_quotas(held, len(new), by, self.limits()))
        with self.lock:
            self.lock.notify_all()  # this process's intake, where it feeds, takes them in now
        return [Submission(run_id, key) for run_id, key in zip(ids, keys, strict=True)]

    def may_control(self, run_id: int, key: str | None, lecturer: bool, owner: str | None = None) -> bool:
        """Whether this key, the person who submitted the run (`owner`, in any of their tabs) or the
        lecturer may stop, delete or retrain the run."""
        if lecturer:
            return True
        run = self.store.get(run_id)
        if run is None:
            return False
        if owner and run.owner and hmac.compare_digest(owner.encode(), run.owner.encode()):
            return True
        return bool(key and run.key_hash and hmac.compare_digest(key_hash(key), run.key_hash))

    def stop(self, job_id: int, key: str | None = None, lecturer: bool = False, owner: str | None = None) -> bool:
        """Stop a running job within one step, or take a queued one off its queue; False if
        neither the key nor the owner owns it."""
        if not self.may_control(job_id, key, lecturer, owner):
            return False
        if self.shared is not None:
            self.shared.stop(job_id)  # queued: stopped on every replica now; running: its feeder reads the request
        if (job := self.jobs.get(job_id)) is not None:
            self.stop_here(job)
        return True

    def stop_here(self, job: Job) -> None:
        """Stop a run of this process's queue or workers."""
        with self.lock:
            if job.done.is_set():
                return
            job.stop_requested = True
            queue = self.queues.get(job.device, deque())
            if job in queue:
                queue.remove(job)
                self._settle(job, RunResult("stopped", STOPPED_QUEUED))
                return
            for slot in self.slots.get(job.device, []):
                if slot.job_id == job.id:
                    slot.stop(job.id)

    def delete(self, run_id: int, key: str | None = None, lecturer: bool = False, owner: str | None = None) -> bool:
        """Delete a run that is not queued or training, from the history and from this registry
        (so no page goes on showing it); returns whether it was deleted."""
        if not self.may_control(run_id, key, lecturer, owner):
            return False
        if self.shared is not None and (run := self.store.get(run_id)) and run.status in ACTIVE:
            return False  # queued or training on another replica
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
        if self.shared is not None and (job is None or job.status == "queued"):
            return self.shared.snapshot(job_id)  # queued or trained anywhere: as the store has it
        return job.snapshot(self.position(job)) if job else None

    def active(self, owner: str | None = None) -> list[JobSnapshot]:
        """Queued and running jobs, all of them or one owner's."""
        if self.shared is not None:  # every replica's; those training here as their worker says
            here = {job.id: job for job in self.jobs.values() if job.status == "running"}
            return [here[s.id].snapshot(0) if s.id in here else s for s in self.shared.active(owner)]
        with self.lock:
            jobs = [j for j in self.jobs.values() if j.status in ACTIVE and owner in (None, j.owner)]
        return [job.snapshot(self.position(job)) for job in jobs]

    def wait(self, job_id: int, timeout: float | None = None) -> bool:
        job = self.jobs.get(job_id)
        return job.done.wait(timeout) if job else True

    def start_workers(self, device: str) -> list[Slot]:
        """Start every worker of the device now, in the background, rather than each at its first run:
        a network and its plain twin then both train from their first second (a worker's start is
        seconds: it imports torch), and the first visit of Train finds the speed measured."""
        slots = self._slots(device)
        with self.lock:
            self.eager.add(device)
            self.lock.notify_all()
        return slots

    def close(self) -> None:
        """Stop the worker processes (the server is going, or a test ends)."""
        with self.lock:
            self.closed = True
            self.lock.notify_all()
        for slots in self.slots.values():
            for slot in slots:
                slot.close()
        self.feeder.release()

    # ----- the workers' side -------------------------------------------------------------------
    def _slots(self, device: str) -> list[Slot]:
        """The device kind's worker slots, each with its feeding thread (started on first use). The
        backend makes them outside the lock: a Ray cluster is asked for its GPUs over the network."""
        if not self.feeding:
            return []  # another replica feeds the machine's workers
        if device not in self.slots:
            limits = lambda: self.limits(device)  # noqa: E731 - the registry's, read at each use: no copy
            made = self.backend.slots(device, self.store.checkpoints, self.data_dir, limits, self.per_device)
            with self.lock:
                if device not in self.slots:  # not made meanwhile by another page's thread
                    self.slots[device] = made
                    for slot in made:
                        name = f"explorer-feed-{slot.name}"
                        threading.Thread(target=self._feed, args=(slot,), name=name, daemon=True).start()
        return self.slots[device]

    def _feed(self, slot: Slot) -> None:
        """Keep a worker alive and hand it the next queued run whenever it is free. Never dies:
        every run it takes ends settled, whatever fails. The device's first worker starts at once
        (it measures the device's speed); the others when a run is waiting for them, or at once if
        the device's workers were started (`start_workers`)."""
        while not self.closed:
            if (slot.index == 0 or slot.started or self._to_start(slot)) and not self._started(slot):
                continue
            with self.lock:
                while not self.queues.get(slot.device_type) and not self.closed and not self._to_start(slot):
                    self.lock.wait()
                if self.closed:
                    return
                if not self.queues.get(slot.device_type):
                    continue  # woken to start: the loop's top starts it
                fresh = not slot.started  # a second worker, at its first run: it starts first
                job = None if fresh else self.queues[slot.device_type].popleft()
            if job is None:
                self._started(slot)
            else:
                self._run(slot, job)

    def _to_start(self, slot: Slot) -> bool:
        """A worker to start before any run asks for it (one that failed to start waits for a run)."""
        return slot.device_type in self.eager and not slot.started and slot.start_error is None

    def _started(self, slot: Slot) -> bool:
        """Start the slot's worker if it is not running; False (its device's queue failed, saying
        why) if it cannot start."""
        try:
            if not slot.alive:
                slot.start()
                slot.start_error = None
                if self.shared is not None and slot.device_type in MEASURED:  # for the replicas' estimates
                    self.shared.share_speed(slot.device_type, MEASURED[slot.device_type])
            return True
        except WorkerStartError as exc:  # a sentence already: the cluster cannot be reached, a timeout
            log.warning("worker %s could not start: %s", slot.name, exc)
            slot.start_error = str(exc)
            self._fail_queue(slot.device_type, slot.start_error)
            return False
        except Exception as exc:
            log.exception("worker %s could not start", slot.name)
            slot.start_error = f"the training process could not start: {exc}"
            self._fail_queue(slot.device_type, slot.start_error)
            return False

    def _fail_queue(self, device: str, message: str) -> None:
        with self.lock:
            while not self.queues.get(device) and not self.closed:  # read anew: the first run makes it
                self.lock.wait()
            queue = self.queues.get(device, deque())
            jobs = list(queue)
            queue.clear()
        for job in jobs:
            self._settle(job, RunResult("failed", message))

    def _run(self, slot: Slot, job: Job) -> None:
        if self.shared is not None and not self.shared.claim(job.id):
            run = self.store.get(job.id)  # stopped or deleted on another replica before a worker took it
            job.settle(run.status if run else "stopped", run.message if run else STOPPED_QUEUED)
            return
        store_failure: list[str] = []

        def on_event(event: Event) -> None:
            job.on_event(event)
            if isinstance(event, StartEvent | StepEvent | EpochEvent) and not store_failure:
                try:
                    self.store.record_event(job.id, event)
                except (StoreError, OSError) as exc:  # the run cannot be kept: end it, say why
                    store_failure.append(f"the run history could not be written ({exc})")
                    slot.stop(job.id)

        with job.lock:
            job.status = "running"  # handed to a worker: loading its data, then training
        order = Order(job.id, job.spec.to_json(), job.recipe.to_json())
        try:
            result = slot.follow(order, on_event, lambda: job.stop_requested)
        except Exception as exc:
            log.exception("run %s could not be followed", job.id)
            slot.kill()
            result = RunResult("failed", f"{type(exc).__name__}: {exc}")
        if store_failure:
            result = RunResult("failed", store_failure[0])
        self._settle(job, result)

    def _settle(self, job: Job, result: RunResult) -> None:
        """Store how the run ended, and show it; a store that fails still leaves the run ended
        (failed, with the reason), so nothing waits for it forever."""
        status, message = result.status, result.message
        try:
            self.store.finish(job.id, result, self.limits(job.device).checkpoint_bytes)
        except (StoreError, OSError) as exc:
            log.exception("run %s could not be stored", job.id)
            status, message = "failed", f"the run ended ({status}) but could not be stored: {exc}"
        if status == "completed" and job.observed_ratio is not None:
            with self.lock:
                self.calibration.setdefault(job.device, deque(maxlen=CALIBRATION_RUNS)).append(job.observed_ratio)
        job.settle(status, message)
