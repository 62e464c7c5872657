"""A run's clock: elapsed time, and the time left from what the run has measured of itself."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .estimate import TEST_COST


class Clock:
    """Elapsed time and an ETA from the fraction done."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def eta(self, fraction: float) -> float | None:
        return self.elapsed * (1 - fraction) / fraction if fraction > 0 else None


@dataclass
class Pace:
    """Where a run's time goes, for an ETA fooled neither by its set-up (data, building, the first
    step's allocations) nor by its pauses to test: the steps left at the measured time per step, and
    the evaluations left at the last one's time (before the first, at a third of a training image's
    time per test image, estimate.TEST_COST)."""

    steps_total: int
    evaluations_total: int
    test_images: int
    train_seconds: float = 0.0
    steps: int = 0
    images: int = 0
    eval_seconds: float | None = None
    evaluations: int = 0

    def eta(self) -> float | None:
        if not self.steps or not self.images:
            return None
        per_eval = self.eval_seconds
        if per_eval is None:
            per_eval = self.test_images * TEST_COST * self.train_seconds / self.images
        left = (self.steps_total - self.steps) * self.train_seconds / self.steps
        return max(left + (self.evaluations_total - self.evaluations) * per_eval, 0.0)
