"""How long an epoch, and a learning-rate range test, will take here, measured before a run
starts (the Train page shows it)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .analysis import analyze
from .data import DATASETS, to_channels_last
from .devices import batch_dtype, pick_device, uses_channels_last
from .distributed import World
from .lr_range import RANGE_STEPS
from .model import build_model
from .recipe import Recipe
from .spec import ResNetSpec
from .train import adapt_spec, make_train_step


@dataclass(frozen=True)
class Estimate:
    """Seconds per training image, timed here, and the run's sizes: what its parts will take."""

    per_image: float
    train_images: int
    test_images: int
    batch_size: int

    @property
    def epoch_seconds(self) -> float:
        # a test image costs about a third of a training image (forward only)
        return self.per_image * (self.train_images + self.test_images / 3)

    @property
    def range_test_seconds(self) -> float:
        """A learning-rate range test: RANGE_STEPS steps of training, no evaluation (at most;
        it ends early once the loss blows up)."""
        return self.per_image * RANGE_STEPS * min(self.batch_size, self.train_images)


def estimate_epoch_seconds(spec: ResNetSpec, recipe: Recipe, timed_steps: int = 3) -> float:
    """Seconds one epoch (training and test) will take here (estimate)."""
    return estimate(spec, recipe, timed_steps).epoch_seconds


def estimate(spec: ResNetSpec, recipe: Recipe, timed_steps: int = 3) -> Estimate:
    """How long a recipe's run will take here, from a few timed steps on random data
    of the right shape: shown before a run starts, so nobody waits an hour for a 224-px ResNet-152
    on a laptop. On a CPU the probe batch holds at most 1e10 MACs (time grows with the batch there),
    so that even ResNet-152 at 224 px answers in seconds, and small networks are timed at their real
    batch (up to 256), where a batch of 32 made the steps' fixed costs count four times over. On a
    GPU it is the real batch. The fastest timed step counts: a busy machine slows some, never speeds
    one up."""
    info = DATASETS[recipe.dataset]
    spec, _ = adapt_spec(spec, info, recipe.input_size)
    device = pick_device(recipe.device)
    cuda = device.type == "cuda"
    model = build_model(spec).to(device)
    size = recipe.input_size
    train_images = min(recipe.limit or info.train_size, info.train_size)
    probe = recipe.batch_size if cuda else max(2, min(256, int(1e10 / analyze(spec).macs)))
    batch = min(recipe.batch_size, train_images, probe)
    x = torch.randn(batch, info.channels, size, size, device=device, dtype=batch_dtype(device))
    y = torch.randint(0, len(info.classes), (batch,), device=device)
    if uses_channels_last(device):
        model, x = model.to(memory_format=torch.channels_last), to_channels_last(x)
    # the run's own kind of step (replayed from a CUDA graph on GPUs), not compiled: compiling
    # takes longer than an estimate may
    step = make_train_step(model, recipe.but(batch_size=batch, compile=False), device, World(), 10**6)
    for _ in range(getattr(step, "warmup_steps", 0) + 1):  # allocations, kernel choice, graph capture
        step(x, y)
    if cuda:
        torch.cuda.synchronize()
    seconds = []
    for _ in range(timed_steps):
        start = time.perf_counter()
        step(x, y)
        if cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return Estimate(min(seconds) / batch, train_images, info.test_size, recipe.batch_size)
