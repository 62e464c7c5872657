"""What a network costs, from its plan, and whether this server may build or train it.

Every door a student can reach (a link, the Design page, Compare, the torchinfo button, the Train
page's estimate and Start, the `train` command) asks here before anything is allocated: a
1.2e12-parameter network described by a link is only arithmetic until a check says it fits.
The limits follow the machine (explorer/hall/settings.py); each refusal names the limit, the value,
and the setting that raises it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .. import fmt, paths
from ..arch.layers import NetworkPlan
from ..arch.plan import plan_network
from ..arch.spec import ResNetSpec
from ..arch.validate import SpecError
from ..training.data import DATASETS
from ..training.estimate import Estimate, Speed, estimate
from ..training.recipe import Recipe, adapt_spec
from .settings import GIB, Settings, disk_bytes, gpu_memory_bytes, how_to_set, load_settings, ram_bytes

FLOAT32 = 4  # bytes; weights, gradients and optimizer state stay fp32 whatever the autocast
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adamw": 2}  # fp32 tensors kept per parameter


class BudgetError(SpecError):
    """Too large for this server: the message names the limit, the value and how to raise it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(limit, message)
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    """The budgets in bytes, counts and seconds, resolved for this machine."""

    max_params: int
    build_bytes: int
    server_bytes: int  # all heavy work in the server's process at once
    heavy_slots: int  # heavy computations at once in the server's process
    train_bytes: int
    macs_per_image: int
    batch_pixels: int
    run_seconds: float
    runs_per_person: int
    runs_per_address: int
    queue_size: int
    checkpoint_bytes: int
    worker_bytes: int


def server_cores() -> int:
    """The cores this process may run on (a container's share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def limits(settings: Settings | None = None, device: str = "cpu") -> Limits:
    """Settings with their machine-following defaults filled in for a run on `device` (cpu, cuda,
    mps): the training memory is the GPU's own on cuda."""
    s = settings or load_settings()
    ram = ram_bytes()
    gpu = gpu_memory_bytes() if device == "cuda" else None
    build = int(s.build_memory_gib * GIB) or ram // 10
    train = int(s.train_memory_gib * GIB) or (int(gpu * 0.85) if gpu else ram // 2)
    disk = int(s.checkpoint_disk_gib * GIB) or min(20 * GIB, disk_bytes(paths.home()) // 5)
    return Limits(
        max_params=s.max_params or build // FLOAT32,
        build_bytes=build,
        server_bytes=max(build, int(s.server_memory_gib * GIB) or 2 * build),
        heavy_slots=s.heavy_at_once or max(1, server_cores() // 2),
        train_bytes=train,
        macs_per_image=int(s.max_gmacs_per_image * 1e9),
        batch_pixels=int(s.max_batch_megapixels * 1e6),
        run_seconds=s.max_run_minutes * 60,
        runs_per_person=s.runs_per_person,
        runs_per_address=s.runs_per_address,
        queue_size=s.queue_size,
        checkpoint_bytes=disk,
        worker_bytes=int(s.worker_memory_gib * GIB) or ram * 3 // 4,
    )


def _over(limit: str, what: str, value: str, allowed: str, hint: str = "") -> BudgetError:
    """'{what} is {value}; this server allows at most {allowed}{hint} (raise {the setting})'."""
    return BudgetError(
        limit, f"{what} is {value}; this server allows at most {allowed}{hint} (raise {how_to_set(limit)})"
    )


# ----- building a network in the server (torchinfo, Try it) -------------------------------------------
def build_bytes(plan: NetworkPlan) -> int:
    """fp32 weights and one image's activations: what building it and one forward pass take."""
    return (plan.params + plan.activation_elements()) * FLOAT32


def _check_size(plan: NetworkPlan, lim: Limits) -> None:
    """The limits a network passes or not whatever is done with it: its parameters and its MACs."""
    if plan.params > lim.max_params:
        raise _over("max_params", "its parameter count", fmt.count(plan.params), fmt.count(lim.max_params))
    if plan.macs > lim.macs_per_image:
        raise _over(
            "max_gmacs_per_image",
            f"its work per {fmt.shape(plan.stem.in_shape)} image",
            fmt.gmacs(plan.macs),
            fmt.gmacs(lim.macs_per_image),
        )


def check_build(plan: NetworkPlan, lim: Limits) -> None:
    """BudgetError if this server should not build the network itself."""
    _check_size(plan, lim)
    if build_bytes(plan) > lim.build_bytes:
        raise _over(
            "build_memory_gib",
            "building it and one image's forward pass",
            fmt.nbytes(build_bytes(plan)),
            fmt.nbytes(lim.build_bytes),
        )


def check_design(plan: NetworkPlan, lim: Limits) -> None:
    """BudgetError if this server could neither build the network itself nor train it even at
    batch 1: the Design page says so beside the numbers, which stay arithmetic."""
    check_build(plan, lim)
    at_batch_1 = (2 * plan.params + plan.activation_elements()) * FLOAT32  # weights, gradients, activations
    if at_batch_1 > lim.train_bytes:
        raise _over(
            "train_memory_gib", "training it even at batch 1", fmt.nbytes(at_batch_1), fmt.nbytes(lim.train_bytes)
        )


# ----- training it ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingCost:
    """What one run of a network (fitted to its dataset) takes on its device."""

    plan: NetworkPlan
    weights: int  # bytes of fp32 weights
    gradients: int
    optimizer: int
    activations: int  # kept for the backward pass, at the batch size
    batch_input: int
    dataset: int  # the uint8 images, resident on the device
    batch_pixels: int  # input pixels x batch
    estimate: Estimate | None  # None while the device's speed is not yet measured

    @property
    def memory(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.batch_input + self.dataset


def training_cost(spec: ResNetSpec, recipe: Recipe, speed: Speed | None = None) -> TrainingCost:
    """The cost of training `spec` with `recipe`, from the plan of the network as it will train
    (fitted to the dataset's channels, size and classes)."""
    info = DATASETS[recipe.dataset]
    plan = plan_network(adapt_spec(spec, info, recipe.input_size)[0])
    c, h, w = plan.stem.in_shape
    batch = min(recipe.batch_size, recipe.train_images)
    images = recipe.train_images + info.test_size
    return TrainingCost(
        plan=plan,
        weights=plan.params * FLOAT32,
        gradients=plan.params * FLOAT32,
        optimizer=plan.params * FLOAT32 * OPTIMIZER_STATE[recipe.optimizer],
        activations=plan.activation_elements() * batch * FLOAT32,
        batch_input=c * h * w * batch * FLOAT32,
        dataset=images * info.channels * info.size * info.size,
        batch_pixels=c * h * w * batch,
        estimate=estimate(plan, recipe, speed) if speed else None,
    )


def check_training(cost: TrainingCost, recipe: Recipe, lim: Limits, capped_time: bool) -> None:
    """BudgetError if this server should not train it; `capped_time` for runs whose estimated
    length is capped (a student's, not the lecturer's)."""
    plan = cost.plan
    _check_size(plan, lim)
    if cost.batch_pixels > lim.batch_pixels:
        raise _over(
            "max_batch_megapixels",
            f"a batch of {recipe.batch_size} {fmt.shape(plan.stem.in_shape)} images",
            f"{cost.batch_pixels / 1e6:,.1f} megapixels",
            f"{lim.batch_pixels / 1e6:,.1f} megapixels",
        )
    if cost.memory > lim.train_bytes:
        raise _over(
            "train_memory_gib",
            f"training it at batch {recipe.batch_size} (weights, gradients, optimizer state, activations)",
            fmt.nbytes(cost.memory),
            fmt.nbytes(lim.train_bytes),
        )
    if capped_time and cost.estimate is not None:
        seconds = cost.estimate.run_seconds(recipe.range_test)
        if seconds > lim.run_seconds:
            raise _over(
                "max_run_minutes",
                "its estimated time here",
                fmt.duration(seconds),
                f"{fmt.duration(lim.run_seconds)} per student run",
                ": fewer epochs or images, or a smaller network, fit",
            )
