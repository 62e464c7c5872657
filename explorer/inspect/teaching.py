"""The "Why residuals?" experiments: the identity argument, degradation, lr vs BN, the plain twin.

d2l's claim is that f(x) = g(x) + x lets a deeper network contain the shallower one, and that
batch norm allows larger learning rates. Each function here measures or defines one of those on
real networks built from specs; gradient flow at initialisation is in gradient_flow.py.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from ..arch.model import build_model
from ..arch.plan import plan_network
from ..arch.spec import MAX_BLOCKS_PER_STAGE, InputSpec, ResNetSpec, StageSpec, StemSpec
from ..arch.validate import SpecError, check_int
from ..training.data import DATASETS
from ..training.lr_range import test_name
from ..training.recipe import RANGE_TEST, Recipe


def cifar_spec(depth: int, width: int = 16, residual: bool = True, **flags: object) -> ResNetSpec:
    """He et al. 2016's CIFAR network of `depth` = 6n + 2 layers (three stages of n basic blocks,
    widths w, 2w, 4w), or its plain twin with residual=False. Other ResNetSpec fields via flags."""
    check_int("depth", depth, 8, 6 * MAX_BLOCKS_PER_STAGE // 3 + 2)
    n = (depth - 2) // 6
    if depth != 6 * n + 2:
        raise SpecError("depth", f"{depth} is not 6n+2; try {6 * n + 2} or {6 * n + 8}")
    return ResNetSpec(
        input=InputSpec(3, 32, 32),
        num_classes=10,
        stem=StemSpec("cifar", width),
        block="basic",
        stages=(StageSpec(n, width, 1), StageSpec(n, 2 * width, 2), StageSpec(n, 4 * width, 2)),
        shortcut="A",
        residual=residual,
        **flags,
    )


# ----- the identity argument -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityDemo:
    input_norm: float
    residual_max_error: float  # max |block(x) - x| with the branch's last BN gamma = 0
    plain_output_norm: float  # ||block(x)|| for the same block without its shortcut
    plain_max_error: float  # max |block(x) - x| without the shortcut


def identity_demo(channels: int = 16, side: int = 8, batch: int = 4, seed: int = 0) -> IdentityDemo:
    """A block whose residual branch ends in BN with gamma = 0 computes relu(0 + x) = x exactly for
    the non-negative x it receives from the previous ReLU; without the shortcut it outputs relu(0) = 0:
    adding a block can cost a residual network nothing, and a plain one everything."""
    torch.manual_seed(seed)
    stages = (StageSpec(1, channels, 1),)
    stem = StemSpec("cifar", channels)
    spec = ResNetSpec(stem=stem, stages=stages, zero_init_residual=True, num_classes=2)
    residual = build_model(spec).layer1[0].eval()
    plain = build_model(dataclasses.replace(spec, residual=False)).layer1[0].eval()
    plain.load_state_dict(residual.state_dict())
    x = torch.rand(batch, channels, side, side)  # non-negative, like any ReLU output
    with torch.no_grad():
        r, p = residual(x), plain(x)
    return IdentityDemo(float(x.norm()), float((r - x).abs().max()), float(p.norm()), float((p - x).abs().max()))


# ----- the degradation experiment (He et al. 2016, Fig. 1) ------------------------------------------


@dataclass(frozen=True)
class DegradationSetup:
    """One version of He et al.'s Fig. 1: what its four runs (plain and residual, shallow and deep)
    share. The optimisation is the point, so no augmentation; SGD with momentum 0.9, weight decay
    1e-4 and a peak lr of 0.1 as the paper, one-cycle because a short schedule needs annealing where
    the paper divides the rate by 10 twice."""

    dataset: str
    width: int  # the first stage's channels (the paper's 16); then 2x and 4x
    limit: int | None  # training images
    test_limit: int | None  # test images evaluated after each epoch
    epochs: int
    batch_size: int
    resize: int | None = None  # px; None: the dataset's own size
    depths: tuple[int, int] = (20, 56)

    def recipe(self, dataset: str | None = None) -> Recipe:
        return Recipe(
            dataset=dataset or self.dataset,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=0.1,
            optimizer="momentum",
            weight_decay=1e-4,
            schedule="onecycle",
            resize=self.resize,
            limit=self.limit,
            test_limit=self.test_limit,
            augment=False,
            log_every=10,
        )

    @property
    def described(self) -> str:
        images = f"{self.limit:,} training images" if self.limit else "the whole training set"
        size = f" at {self.resize} px" if self.resize else ""
        return f"{DATASETS[self.dataset].title}, width {self.width}, {images}{size}, {self.epochs} epochs"


# The paper's widths on the whole training set: about a minute on a GPU (benchmarks/RESULTS.md).
GPU_DEGRADATION = DegradationSetup("cifar10", 16, None, None, 10, 256)
# Found by experiment on 2 cores (benchmarks/RESULTS.md, "The degradation experiment"), the four runs
# two at a time: both halves of the result within the page's 5 minutes. On the offline digits (about
# 90 s of CPU per worker), plain-56 ends at 1.21 against plain-20's 0.002 while both ResNets reach
# 0.0003-0.0004; on 4,000 Fashion-MNIST images at 16 px (about 2.5 minutes), plain-56 1.04 against 0.40,
# resnet-56 0.18 against resnet-20's 0.23.
CPU_DEGRADATION = DegradationSetup("digits", 8, None, None, 30, 64)
CPU_DEGRADATION_28PX = DegradationSetup("fashion-mnist", 8, 4000, 2000, 8, 128, resize=16)


def degradation_setup(dataset: str, gpu: bool) -> DegradationSetup:
    """The version of the experiment the page runs on `dataset`: the full one on a GPU; on a CPU the
    digits' own, or the 28-px datasets' (and CIFAR-10's) at 16 px on a subset."""
    if gpu:
        return dataclasses.replace(GPU_DEGRADATION, dataset=dataset)
    if dataset == CPU_DEGRADATION.dataset:
        return CPU_DEGRADATION
    return dataclasses.replace(CPU_DEGRADATION_28PX, dataset=dataset)


def degradation_runs(setup: DegradationSetup, dataset: str | None = None) -> list[tuple[str, ResNetSpec, Recipe]]:
    """resnet-56, plain-56, resnet-20, plain-20 with one recipe: the deep ones first, so that two
    workers train the deep pair, then the shallow pair, side by side and finish together."""
    recipe = setup.recipe(dataset)
    runs = []
    for depth in sorted(setup.depths, reverse=True):
        for residual in (True, False):
            name = f"{'resnet' if residual else 'plain'}-{depth}"
            runs.append((name, cifar_spec(depth, setup.width, residual), recipe))
    return runs


SWEEP_LRS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # the Why residuals? page's sweep


def lr_sweep_runs(
    spec: ResNetSpec, lrs: tuple[float, ...], dataset: str, epochs: int = 1, limit: int | None = 4000
) -> list[tuple[str, ResNetSpec, Recipe]]:
    """The same network with and without BN at each learning rate: final loss vs lr."""
    runs = []
    for bn in (True, False):
        for lr in lrs:
            recipe = Recipe(dataset=dataset, epochs=epochs, batch_size=128, lr=lr, optimizer="momentum", limit=limit)
            runs.append((f"{'BN' if bn else 'no BN'} lr={lr:g}", dataclasses.replace(spec, batch_norm=bn), recipe))
    return runs


def bn_range_test_runs(
    spec: ResNetSpec, dataset: str, limit: int | None = 4000
) -> list[tuple[str, ResNetSpec, Recipe]]:
    """The same question in two runs: a learning-rate range test of the network with and without
    BN. Measured on Fashion-MNIST (resnet-20 at width 8, 4,000 images, 2 CPU cores, 11 s for both):
    with BN the loss falls fastest at lr 0.025 and reaches 1.47 at 0.057; without, it falls fastest
    at 5e-5, gets no lower than 2.26 (at 0.009) and blows up twenty steps earlier."""
    recipe = Recipe(dataset=dataset, batch_size=128, optimizer="momentum", limit=limit, schedule=RANGE_TEST)
    return [
        (test_name("BN" if bn else "no BN"), dataclasses.replace(spec, batch_norm=bn), recipe) for bn in (True, False)
    ]


# ----- a network and its plain twin, trained side by side (He et al. 2016, Fig. 4) ----------------
TWIN_EXPERIMENT = "twin"  # experiment names begin so: "twin 2026-11-30 10:04:05"
PLAIN_TWIN = "plain twin"


# The twin demonstration a CPU offers (Train page): a deep, narrow CIFAR ResNet and its plain twin,
# where the shortcut makes a visible difference within two minutes on two cores (found by experiment:
# benchmarks/RESULTS.md, "The plain twin"): test accuracy 0.84 against 0.34 after about a minute.
TWIN_DEMO_SPEC = cifar_spec(56, 8)
TWIN_DEMO_RECIPE = Recipe(
    dataset="fashion-mnist", epochs=5, batch_size=128, lr=0.1, optimizer="momentum", weight_decay=1e-4,
    schedule="onecycle", resize=16, limit=4000, test_limit=2000,
)  # fmt: skip


def twin_runs(name: str, spec: ResNetSpec, recipe: Recipe) -> list[tuple[str, ResNetSpec, Recipe]]:
    """The network and the same layers without shortcuts, with one recipe and seed: the same data
    in the same order, the same initial weights where the layers are the same."""
    return [(name, spec, recipe), (f"{name}, {PLAIN_TWIN}", dataclasses.replace(spec, residual=False), recipe)]


# ----- a residual block, one operation at a time (lecture mode) -------------------------------------


@dataclass(frozen=True)
class BlockStep:
    label: str  # "3x3 conv, 128, stride 2"
    shape: tuple[int, int, int]  # output of this step (C, H, W)
    params: int
    branch: str  # main, shortcut or sum


def bn_lr_verdict(bn_limit: float | None, plain_limit: float | None) -> str:
    """Whether measured runs bear out "batch norm lets you use a larger learning rate", in one
    sentence read off them. A limit is the largest learning rate a network trained at without
    blowing up (math.inf: it never blew up in the range tried; None: it blew up at every rate)."""
    if bn_limit is None and plain_limit is None:
        return "**Here, neither** trained at any of these learning rates without blowing up."

    def said(limit: float | None) -> str:
        return "none" if limit is None else "the end of the range" if limit == math.inf else f"{limit:.2g}"

    bn, plain = (-1.0 if v is None else v for v in (bn_limit, plain_limit))
    if bn > plain:
        return (f"**Here, yes:** with batch norm it trained at learning rates up to {said(bn_limit)}, "
                f"without it up to {said(plain_limit)}.")  # fmt: skip
    if bn == plain:
        return f"**Here, no difference:** both trained at learning rates up to {said(bn_limit)}."
    return (f"**Here, no:** without batch norm it went further ({said(plain_limit)} against {said(bn_limit)}); "
            "on this data and this short budget the claim does not hold.")  # fmt: skip


def block_walkthrough(in_channels: int, out_channels: int, stride: int, side: int) -> list[BlockStep]:
    """d2l's Residual block, step by step: x, conv, BN, ReLU, conv, BN, shortcut, + x, ReLU,
    with the shape after each step (taken from the plan, so it is the real arithmetic)."""
    spec = ResNetSpec(
        input=InputSpec(in_channels, side, side),
        num_classes=10,
        stem=StemSpec("cifar", in_channels),
        stages=(StageSpec(1, out_channels, stride),),
        shortcut="B",
        conv_bias=True,  # d2l's convs carry biases and its 1x1 shortcut has no BN
        shortcut_bn=False,
    )
    block = plan_network(spec).blocks[0]
    layers = {layer.name.split(".", 2)[-1]: layer for layer in block.layers}
    steps = [BlockStep("x (the block's input)", block.in_shape, 0, "main")]
    for conv, bn in (("conv1", "bn1"), ("conv2", "bn2")):
        c = layers[conv]
        stride_note = f", stride {c.stride}" if c.stride > 1 else ""
        steps.append(BlockStep(f"3x3 conv, {c.out_shape[0]} channels{stride_note}", c.out_shape, c.params, "main"))
        steps.append(BlockStep("batch norm", c.out_shape, layers[bn].params, "main"))
        if conv == "conv1":
            steps.append(BlockStep("ReLU", c.out_shape, 0, "main"))
    if block.shortcut == "projection":
        proj = layers["downsample.0"]
        label = f"shortcut: 1x1 conv, {proj.out_shape[0]} channels, stride {stride} (use_1x1conv=True)"
        steps.append(BlockStep(label, proj.out_shape, proj.params, "shortcut"))
    else:
        steps.append(BlockStep("shortcut: identity (x as it is)", block.in_shape, 0, "shortcut"))
    steps.append(BlockStep("F(x) + x", block.out_shape, 0, "sum"))
    steps.append(BlockStep("ReLU", block.out_shape, 0, "sum"))
    return steps


def random_quiz_spec(seed: int) -> ResNetSpec:
    """A small random network for "predict the shape / parameter count" questions."""
    import random

    rng = random.Random(seed)
    side = rng.choice([28, 32, 64, 96])
    stages, channels = [], rng.choice([8, 16, 32])
    for i in range(rng.randint(1, 3)):
        stages.append(StageSpec(rng.randint(1, 2), channels, 1 if i == 0 else 2))
        channels *= 2
    return ResNetSpec(
        input=InputSpec(rng.choice([1, 3]), side, side),
        num_classes=rng.choice([10, 100]),
        stem=StemSpec(rng.choice(["cifar", "imagenet"]), stages[0].channels),
        block="basic",
        stages=tuple(stages),
        shortcut="B",
        conv_bias=rng.random() < 0.3,
    )
