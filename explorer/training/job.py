"""A run in the job registry (explorer/training/jobs.py): its state as the worker's events update it,
and the snapshot a page reads (a copy taken under the job's lock)."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from ..arch.spec import ResNetSpec
from .events import DoneEvent, EpochEvent, Event, InfoEvent, StartEvent, StepEvent, as_dict
from .recipe import Recipe

STEP_POINTS_KEPT = 2000  # enough for a smooth live curve; the store keeps every sampled step
ACTIVE = ("queued", "running")


@dataclass
class JobSnapshot:
    id: int
    name: str
    experiment: str | None
    device: str
    owner: str | None
    status: str  # queued, running, completed, stopped, diverged, failed
    position: int  # 1.. while queued (1 = next), 0 once running or finished
    message: str
    progress: float  # 0..1
    elapsed: float | None
    eta: float | None
    start: StartEvent | None = None  # params, steps per epoch, the device's name, notes
    steps: list[dict] = field(default_factory=list)  # StepEvent rows, for charts
    epochs: list[dict] = field(default_factory=list)  # EpochEvent rows
    log: list[str] = field(default_factory=list)  # info messages (downloads, adaptations)
    expected_per_image: float | None = None  # seconds per training image, as estimated at submission

    @property
    def finished(self) -> bool:
        return self.status not in ACTIVE


class Job:
    def __init__(
        self, run_id: int, name: str, spec: ResNetSpec, recipe: Recipe, device: str, experiment: str | None, owner: str
    ) -> None:
        self.id, self.name, self.spec, self.recipe = run_id, name, spec, recipe
        self.device, self.experiment, self.owner = device, experiment, owner
        self.address: str | None = None  # the client's, for the per-address quota
        self.lock = threading.Lock()
        self.status, self.message = "queued", ""
        self.start: StartEvent | None = None
        self.steps: deque[StepEvent] = deque(maxlen=STEP_POINTS_KEPT)
        self.epochs: list[EpochEvent] = []
        self.log: list[str] = []
        self.progress, self.elapsed, self.eta = 0.0, None, None
        self.stop_requested = False
        self.done = threading.Event()
        self.expected_per_image: float | None = None  # the estimate's, where the speed was known
        self.calibration = 1.0  # the device's correction when it was submitted
        self.observed_ratio: float | None = None  # its last epoch's time per image against the probe's

    def on_event(self, event: Event) -> None:
        with self.lock:
            if isinstance(event, InfoEvent):
                self.log.append(event.message)
            elif isinstance(event, StartEvent):
                self.status, self.start = "running", event
                self.log += [f"adapted: {note}" for note in event.adapted]
            elif isinstance(event, StepEvent):
                self.steps.append(event)
                self.progress, self.elapsed, self.eta = event.progress, event.elapsed, event.eta
            elif isinstance(event, EpochEvent):
                self.epochs.append(event)
                self.elapsed, self.eta = event.elapsed, event.eta
                if self.expected_per_image and event.images_per_sec > 0:
                    seconds = 1 / event.images_per_sec
                    self.observed_ratio = seconds * self.calibration / self.expected_per_image
            elif isinstance(event, DoneEvent):
                # the status shows once the run is stored (settle): a page that sees the run
                # finished reads its results, weights and all, from the store at once
                self.elapsed, self.eta = event.elapsed, 0.0

    def settle(self, status: str, message: str) -> None:
        """The run is stored (or could not be): its final status shows, and waiters go on."""
        with self.lock:
            self.status, self.message, self.eta = status, message, 0.0
        self.done.set()

    def snapshot(self, position: int) -> JobSnapshot:
        with self.lock:
            return JobSnapshot(
                self.id,
                self.name,
                self.experiment,
                self.device,
                self.owner,
                self.status,
                position,
                self.message,
                self.progress if self.status != "completed" else 1.0,
                self.elapsed,
                self.eta,
                self.start,
                [as_dict(s) for s in self.steps],
                [as_dict(e) for e in self.epochs],
                list(self.log),
                self.expected_per_image,
            )
