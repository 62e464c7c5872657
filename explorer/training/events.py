"""What a training run reports while it goes: typed events, from the trainer to the job registry,
the run store, the command line and the pages (and, pickled, from a worker process to the server).

`as_dict(event)` is the JSON-lines form the `train --jsonl` command prints: {"event": kind, ...}.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from .stage_stats import StageStats


@dataclass(frozen=True)
class InfoEvent:
    kind: ClassVar[str] = "info"
    message: str  # a download's progress, a compile starting


@dataclass(frozen=True)
class StartEvent:
    kind: ClassVar[str] = "start"
    device: str  # 'cpu', 'cuda (NVIDIA H200)'
    world_size: int
    params: int
    spec: dict[str, Any]  # the network as trained (fitted to the dataset)
    recipe: dict[str, Any]
    adapted: list[str]  # how the design was fitted to the dataset, in words
    normalize: dict[str, list[float]]  # per-channel mean and std: what inference must repeat
    train_size: int
    test_size: int
    steps_per_epoch: int
    epochs: int
    cuda_graph: bool
    compiled: bool

    @property
    def range_test(self) -> bool:
        from .recipe import RANGE_TEST

        return self.recipe.get("schedule") == RANGE_TEST


@dataclass(frozen=True)
class StepEvent:
    kind: ClassVar[str] = "step"
    step: int
    epoch: int
    loss: float  # mean over the images since the last step event
    images_per_sec: float
    progress: float  # 0..1
    elapsed: float  # seconds
    eta: float | None
    stages: tuple[StageStats, ...] = ()  # per-stage gradient and update sizes at this step (stage_stats.py)


@dataclass(frozen=True)
class EpochEvent:
    kind: ClassVar[str] = "epoch"
    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    images_per_sec: float
    elapsed: float
    eta: float | None


@dataclass(frozen=True)
class DoneEvent:
    kind: ClassVar[str] = "done"
    status: str  # completed, stopped, diverged, failed
    message: str
    elapsed: float


Event = InfoEvent | StartEvent | StepEvent | EpochEvent | DoneEvent


def as_dict(event: Event) -> dict[str, Any]:
    """{"event": "epoch", "epoch": 1, ...}: a row for a chart, a line of `train --jsonl`."""
    return {"event": event.kind, **asdict(event)}
