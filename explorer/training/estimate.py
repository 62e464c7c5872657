"""How long a run will take, by arithmetic on the plan and a speed measured once per device.

Nothing is built to answer: the pages and the budgets ask this in milliseconds, for any network.
A training worker measures its device once at its start (`measure_speed`): a training step's time
per forward MAC, for narrow and for wide convolutions, and a fixed cost per layer and step. A
network's step is then the sum over its layers. Measured on two cores against timed steps
(resnet-mini, resnet-20/110, d2l-resnet18 at 28 and 96 px, resnet50 at 224 px): within 0.74x to
1.16x of the real time per image, where one rate for all convolutions was 1.6x off for ResNet-50
(wide convolutions run at about twice the rate of narrow ones).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ..arch.layers import LayerPlan, NetworkPlan
from ..arch.plan import plan_network
from ..arch.spec import InputSpec, ResNetSpec, StageSpec, StemSpec
from .lr_range import RANGE_STEPS
from .recipe import Recipe

TEST_COST = 1 / 3  # a test image runs forward only: about a third of a training image


@dataclass(frozen=True)
class Speed:
    """A device's training speed: seconds per forward MAC of a training step (forward, backward,
    update) for convolutions of `narrow_k` and of `wide_k` multiply-adds per output, and seconds
    per layer and step (launches, BN, allocation: what dominates tiny networks)."""

    device: str
    narrow_k: float
    narrow_seconds_per_mac: float
    wide_k: float
    wide_seconds_per_mac: float
    seconds_per_layer: float

    def scaled(self, factor: float) -> Speed:
        """This speed, every cost multiplied by `factor` (what the runs since showed it to be)."""
        return Speed(self.device, self.narrow_k, self.narrow_seconds_per_mac * factor, self.wide_k,
                     self.wide_seconds_per_mac * factor, self.seconds_per_layer * factor)  # fmt: skip

    def seconds_per_mac(self, k: int) -> float:
        """Log-linear between the two measured widths, constant beyond them."""
        span = math.log(self.wide_k) - math.log(self.narrow_k)
        f = (math.log(max(k, 1)) - math.log(self.narrow_k)) / span if span > 0 else 0.0
        if f <= 0 or f >= 1:
            return self.narrow_seconds_per_mac if f <= 0 else self.wide_seconds_per_mac
        return math.exp(math.log(self.narrow_seconds_per_mac) * (1 - f) + math.log(self.wide_seconds_per_mac) * f)

    def step_seconds(self, plan: NetworkPlan, batch: int) -> float:
        """One training step of `plan` at `batch` images."""
        compute = sum(layer.macs * self.seconds_per_mac(_reduction(layer)) for layer in plan.layers if layer.macs)
        return batch * compute + len(plan.layers) * self.seconds_per_layer


def _reduction(layer: LayerPlan) -> int:
    """Multiply-adds per output value: what makes a convolution narrow or wide for the hardware."""
    return layer.in_shape[0] // layer.groups * layer.kernel * layer.kernel


def _k_of(plan: NetworkPlan) -> float:
    """The MAC-weighted geometric mean reduction of a network's layers."""
    weighted = [(layer.macs, _reduction(layer)) for layer in plan.layers if layer.macs]
    total = sum(macs for macs, _ in weighted)
    return math.exp(sum(macs * math.log(max(k, 1)) for macs, k in weighted) / total)


@dataclass(frozen=True)
class Estimate:
    """Seconds per training image on a device, and the run's sizes: what its parts will take."""

    per_image: float
    train_images: int
    test_images: int
    batch_size: int
    epochs: int
    time_limit: float | None = None  # the recipe's: training stops there, then one evaluation
    steps: int | None = None  # the recipe's step budget: that many steps, tested after each epoch begun

    @property
    def epoch_seconds(self) -> float:
        return self.per_image * (self.train_images + self.test_images * TEST_COST)

    @property
    def range_test_seconds(self) -> float:
        """A learning-rate range test: RANGE_STEPS steps of training, no evaluation (at most;
        it ends early once the loss blows up)."""
        return self.per_image * RANGE_STEPS * min(self.batch_size, self.train_images)

    def run_seconds(self, range_test: bool = False) -> float:
        if range_test:
            return self.range_test_seconds
        if self.steps is not None:
            batch = min(self.batch_size, self.train_images)
            evaluations = -(-self.steps * batch // self.train_images)
            return self.per_image * (self.steps * batch + evaluations * self.test_images * TEST_COST)
        if self.time_limit is not None:
            training = min(self.per_image * self.train_images * self.epochs, self.time_limit)
            return training + self.per_image * self.test_images * TEST_COST
        return self.epoch_seconds * self.epochs


def estimate(plan: NetworkPlan, recipe: Recipe, speed: Speed) -> Estimate:
    """How long `recipe`'s run of `plan` (already fitted to the dataset) takes on `speed`'s device."""
    batch = min(recipe.batch_size, recipe.train_images)
    per_image = speed.step_seconds(plan, batch) / batch
    r = recipe
    return Estimate(per_image, r.train_images, r.test_images, r.batch_size, r.epochs, r.time_limit, r.steps)


def queue_seconds(runs: list[float], workers: int) -> float:
    """How long runs of these lengths take, queued in this order, on `workers` workers that each
    take the next run when free (the job registry's way)."""
    free = [0.0] * max(workers, 1)
    for seconds in runs:
        free[free.index(min(free))] += seconds
    return max(free)


# ----- measuring a device (in a training worker, never in the server) ---------------------------------
PROBE_BATCH = 32
_NARROW = ResNetSpec(  # resnet-mini's layout: 16 to 64 channels
    input=InputSpec(1, 8, 8),
    num_classes=10,
    stem=StemSpec("cifar", 16),
    stages=(StageSpec(1, 16, 1), StageSpec(1, 32, 2), StageSpec(1, 64, 2)),
)
_WIDE = ResNetSpec(input=InputSpec(1, 16, 16), num_classes=10, stem=StemSpec("cifar", 256), stages=(StageSpec(1, 256),))


def _timed_step(spec: ResNetSpec, batch: int, device, timed_steps: int = 3) -> float:
    """The fastest of a few training steps of `spec` on random data (a busy machine slows some
    steps, never speeds one up), with the run's own kind of step (a CUDA graph on GPUs)."""
    import torch

    from ..arch.model import build_model
    from .data import to_channels_last
    from .devices import batch_dtype, uses_channels_last
    from .distributed import World
    from .steps import make_train_step

    cuda = device.type == "cuda"
    model = build_model(spec).to(device)
    x = torch.randn(batch, spec.input.channels, spec.input.height, spec.input.width, device=device)
    x = x.to(batch_dtype(device))
    y = torch.randint(0, spec.num_classes, (batch,), device=device)
    if uses_channels_last(device):
        model, x = model.to(memory_format=torch.channels_last), to_channels_last(x)
    recipe = Recipe(dataset="digits", optimizer="momentum", batch_size=batch)
    step = make_train_step(model, recipe, device, World(), 10**6)
    for _ in range(getattr(step, "warmup_steps", 0) + 1):  # allocations, kernel choice, graph capture
        step(x, y)
    seconds = []
    for _ in range(timed_steps):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        step(x, y)
        if cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return min(seconds)


def measure_speed(device) -> Speed:
    """Time three probes (about 1.5 s on two cores): the narrow network at two input sizes (its
    per-layer cost and its rate) and one wide stage (the rate of wide convolutions)."""
    from .devices import device_name

    small, large = _NARROW, _NARROW.with_input(1, 48, 48)
    p_small, p_large, p_wide = plan_network(small), plan_network(large), plan_network(_WIDE)
    t_small, t_large = _timed_step(small, PROBE_BATCH, device), _timed_step(large, PROBE_BATCH, device)
    narrow = max((t_large - t_small) / (PROBE_BATCH * (p_large.macs - p_small.macs)), 1e-16)
    per_layer = max((t_small - PROBE_BATCH * p_small.macs * narrow) / len(p_small.layers), 0.0)
    t_wide = _timed_step(_WIDE, PROBE_BATCH // 2, device)
    wide = max((t_wide - len(p_wide.layers) * per_layer) / (PROBE_BATCH // 2 * p_wide.macs), 1e-16)
    return Speed(device_name(device), _k_of(p_large), narrow, _k_of(p_wide), wide, per_layer)
