"""Recipe: every training setting in one validated, frozen place (units in the comments)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..arch.spec import ResNetSpec
from ..arch.validate import SpecError, check_bool, check_choice, check_float, check_int, check_keys
from ..links import json_from_link
from .data import DATASETS, DatasetInfo

OPTIMIZERS = ("sgd", "momentum", "adamw")
SCHEDULES = ("constant", "onecycle")  # what a training run follows
RANGE_TEST = "range-test"  # a learning-rate range test instead of training (explorer/training/lr_range.py)
INITS = ("torchvision", "xavier")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")


class RecipeError(SpecError):
    """A bad training setting; the message names the field and the allowed range."""


@dataclass(frozen=True)
class Recipe:
    dataset: str = "fashion-mnist"
    epochs: int = 10
    batch_size: int = 256  # images per step (per process under torchrun)
    lr: float = 0.05  # peak learning rate
    optimizer: str = "sgd"  # sgd: plain, as d2l's train_ch6; momentum: SGD with 0.9 (Nesterov); adamw
    weight_decay: float = 0.0  # L2 for sgd/momentum, decoupled for adamw
    # onecycle: warm up for 25% of the steps, then anneal (Smith 2018); range-test: no training,
    # ~100 steps with the lr growing from 1e-5 to 10 to see which lr suits (lr_range.py; lr, epochs
    # and the schedule's own length are then not used)
    schedule: str = "constant"
    label_smoothing: float = 0.0  # Szegedy et al. 2016; 0.1 is usual
    resize: int | None = None  # px; None keeps the dataset's size; d2l's chapter trains at 96
    augment: bool = False  # random flip (where labels allow) and translation, on the device
    limit: int | None = None  # train on the first N images only (a fixed shuffle), for quick demos
    # test on the first N test images only (a fixed shuffle): a demonstration's evaluation after
    # every epoch would otherwise cost about as much as its training on a few thousand images
    test_limit: int | None = None
    seed: int = 0  # same seed, same device: same run
    init: str = "torchvision"  # xavier: as d2l's train_ch6 re-initialises every conv and linear layer
    device: str = "auto"  # auto: cuda, then mps, then cpu
    # auto: bf16 autocast where the hardware computes it natively (CUDA; CPUs with AVX512-BF16 or
    # AMX), else fp32. Weights, optimizer and BN statistics stay fp32 either way.
    precision: str = "auto"
    log_every: int = 25  # steps between host reads of loss (the only synchronisations in an epoch)
    # torch.compile (Inductor) the network: batch norm, ReLU and the residual adds fuse into fewer
    # kernels. The first run of a network shape compiles for about 30 s (27 s for d2l-resnet18 on
    # an H200); later runs on the same machine reuse Inductor's on-disk cache
    # (benchmarks/RESULTS.md has both timings).
    compile: bool = False
    # A checkpoint to start from (fine-tuning): a .pt/.pth/.safetensors file of this network; the
    # classifier starts fresh where the classes differ, the first conv adapts to the channels.
    weights: str | None = None
    # Seconds of training (evaluation not counted) after which the run stops and is tested: a class
    # challenge's time budget. The loss reading steps (log_every) are where it is checked.
    time_limit: float | None = None
    # Training steps (batches of batch_size) after which the run stops and is tested, whatever the
    # epochs say: a budget that does not depend on the clock, so every challenge entry gets the same
    # training however loaded the server is; the schedule spans these steps.
    steps: int | None = None

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, tuple(DATASETS), RecipeError)
        check_int("epochs", self.epochs, 1, 1000, RecipeError)
        check_int("batch_size", self.batch_size, 1, 65536, RecipeError)
        check_float("lr", self.lr, 0.0, 10.0, RecipeError, low_open=True)
        check_choice("optimizer", self.optimizer, OPTIMIZERS, RecipeError)
        check_float("weight_decay", self.weight_decay, 0.0, 1.0, RecipeError)
        check_choice("schedule", self.schedule, (*SCHEDULES, RANGE_TEST), RecipeError)
        check_float("label_smoothing", self.label_smoothing, 0.0, 0.5, RecipeError)
        if self.resize is not None:
            check_int("resize", self.resize, 8, 512, RecipeError)
        check_bool("augment", self.augment, RecipeError)
        if self.limit is not None:
            check_int("limit", self.limit, 10, 10_000_000, RecipeError)
        if self.test_limit is not None:
            check_int("test_limit", self.test_limit, 10, 10_000_000, RecipeError)
        check_int("seed", self.seed, 0, 2**31 - 1, RecipeError)
        check_choice("init", self.init, INITS, RecipeError)
        check_choice("device", self.device, DEVICES, RecipeError)
        check_choice("precision", self.precision, PRECISIONS, RecipeError)
        check_int("log_every", self.log_every, 1, 10_000, RecipeError)
        check_bool("compile", self.compile, RecipeError)
        if self.time_limit is not None:
            check_float("time_limit", self.time_limit, 1.0, 7 * 86400.0, RecipeError)
        if self.steps is not None:
            check_int("steps", self.steps, 1, 10_000_000, RecipeError)
        if self.weights is not None and (not isinstance(self.weights, str) or not 0 < len(self.weights) <= 4096):
            raise RecipeError("weights", f"expected the path of a checkpoint file, got {self.weights!r}")

    @property
    def range_test(self) -> bool:
        """Whether this is a learning-rate range test rather than a training run."""
        return self.schedule == RANGE_TEST

    @property
    def train_images(self) -> int:
        """How many training images a run sees each epoch: the dataset's, or the limit's if fewer."""
        total = DATASETS[self.dataset].train_size
        return min(self.limit or total, total)

    @property
    def steps_per_epoch(self) -> int:
        """Batches in an epoch (a last partial batch counts: eager steps take it)."""
        return -(-self.train_images // min(self.batch_size, self.train_images))

    @property
    def epochs_run(self) -> int:
        """The epochs a run goes through: as many as its step budget takes, where it has one."""
        return -(-self.steps // self.steps_per_epoch) if self.steps else self.epochs

    @property
    def test_images(self) -> int:
        """How many test images each evaluation runs over."""
        total = DATASETS[self.dataset].test_size
        return min(self.test_limit or total, total)

    @property
    def input_size(self) -> int:
        return self.resize or DATASETS[self.dataset].size

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def but(self, **changes: Any) -> Recipe:
        return replace(self, **changes)


def adapt_spec(spec: ResNetSpec, info: DatasetInfo, size: int) -> tuple[ResNetSpec, list[str]]:
    """The designed network, fitted to the dataset's channels, image size and classes."""
    notes = []
    i = spec.input
    if (i.channels, i.height, i.width) != (info.channels, size, size):
        notes.append(
            f"input {i.channels}x{i.height}x{i.width} -> {info.channels}x{size}x{size} for {info.title}"
            + (" (first conv adapted)" if i.channels != info.channels else "")
        )
        spec = spec.with_input(info.channels, size, size)
    if spec.num_classes != len(info.classes):
        notes.append(f"classifier {spec.num_classes} -> {len(info.classes)} classes")
        spec = spec.with_classes(len(info.classes))
    return spec, notes


def recipe_from_dict(data: Any) -> Recipe:
    return Recipe(**check_keys("recipe", data, set(Recipe.__dataclass_fields__), RecipeError))


def recipe_from_link(text: str, networks: Collection[str], current: str, max_chars: int = 2000) -> tuple[str, Recipe]:
    """`?recipe={"network":"resnet20","epochs":5}`: the network (one of `networks`, or `current`
    where the link names none) and the recipe; RecipeError in a sentence for anything else. A
    checkpoint's path is a file on the server: never taken from a link."""
    example = '{"epochs":5}'
    data = json_from_link(text, "recipe", max_chars, example)
    if not isinstance(data, dict):
        raise RecipeError("recipe", f"not a recipe (expected JSON such as {example})")
    network = data.pop("network", current)
    if network != current and (not isinstance(network, str) or network not in networks):
        raise RecipeError("recipe.network", f"unknown network {str(network)[:40]!r}")
    data.pop("weights", None)
    return network, recipe_from_dict(data)


# d2l's recipe (d2l.ai: lr, num_epochs, batch_size = 0.05, 10, 256; resize=96; train_ch6
# re-initialises with Xavier and uses plain SGD).
D2L_RECIPE = Recipe(dataset="fashion-mnist", epochs=10, batch_size=256, lr=0.05, resize=96, init="xavier")

# What a 2-core CPU finishes in under a minute: resnet-mini at the native 28 px on 20,000 images,
# momentum and one-cycle (measured: 41 s, test accuracy 0.899 on Fashion-MNIST).
CPU_RECIPE = Recipe(
    dataset="fashion-mnist",
    epochs=5,
    batch_size=128,
    lr=0.1,
    optimizer="momentum",
    schedule="onecycle",
    limit=20_000,
)

# He et al. 2016's CIFAR-10 recipe, shortened: momentum 0.9, weight decay, flips and shifts.
CIFAR_RECIPE = Recipe(
    dataset="cifar10",
    epochs=30,
    batch_size=128,
    lr=0.1,
    optimizer="momentum",
    weight_decay=5e-4,
    schedule="onecycle",
    augment=True,
)
GENERAL_RECIPE = Recipe(dataset="fashion-mnist", epochs=5, batch_size=128, lr=0.05, optimizer="momentum")


def suggested_recipe(preset_name: str | None) -> Recipe:
    """A sensible starting recipe for a preset (d2l's own for d2l-resnet18)."""
    if preset_name == "d2l-resnet18":
        return D2L_RECIPE
    if preset_name == "resnet-mini":
        return CPU_RECIPE
    if preset_name in ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110"):
        return CIFAR_RECIPE
    return GENERAL_RECIPE
