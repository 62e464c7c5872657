"""The plan's rows: one LayerPlan per module of a network (name, kind, shapes, parameters, MACs,
receptive field), grouped into blocks (BlockPlan), stages (StagePlan) and the network (NetworkPlan).
plan.py fills them in by arithmetic; the builder, the analysis, the diagram and the code export
read them. Tuples, not dataclasses: ResNet-152's ~900 rows are built on every edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from operator import attrgetter
from typing import NamedTuple

from .spec import ResNetSpec

Shape = tuple[int, int, int]  # (C, H, W) of one sample

# What a block adds to its branch's output, by the reason it was chosen.
SHORTCUT_LABEL = {
    "identity": "identity",
    "zero-pad": "zero-pad",
    "projection": "1x1 projection",
    "avgpool-projection": "avg-pool + 1x1",
    "none": "no skip (plain)",
}


class LayerPlan(NamedTuple):  # a NamedTuple: ~900 of these per ResNet-152, built on every edit
    name: str  # module name in build_model(spec), torchvision/timm-style ("layer2.0.downsample.0")
    kind: str  # see KINDS
    stage: str  # stem, layer1.., head
    in_shape: Shape
    out_shape: Shape
    params: int  # trainable parameters
    macs: int  # multiply-accumulates per sample (convs and linear layers, as torchvision counts)
    rf: int | None  # receptive field of one output unit, in input px; None once pooled globally
    branch: str = "main"  # main, shortcut, or out (after the addition)
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    bias: bool = False
    dilation: int = 1
    ceil: bool = False  # pools: ceil_mode (ResNet-D's shortcut keeps the edge column)

    @property
    def out_numel(self) -> int:
        c, h, w = self.out_shape
        return c * h * w

    @property
    def padding(self) -> int:
        """Zero padding of convs and pools: 'same' for odd kernels, none for 2x2 averages."""
        return self.dilation * (self.kernel - 1) // 2 if self.kind in ("conv", "maxpool", "blur") else 0

    @property
    def detail(self) -> str:
        """'3x3/2, 64->128' and the like, for tables and the diagram."""
        cin, cout = self.in_shape[0], self.out_shape[0]
        if self.kind == "conv":
            groups = f", groups {self.groups}" if self.groups > 1 else ""
            dilation = f", dilation {self.dilation}" if self.dilation > 1 else ""
            bias = ", bias" if self.bias else ""
            return f"{self.kernel}x{self.kernel}/{self.stride}, {cin}->{cout}{groups}{dilation}{bias}"
        if self.kind in ("maxpool", "avgpool", "avgpool-same", "blur"):
            return f"{self.kernel}x{self.kernel}/{self.stride}"
        if self.kind == "zero-pad":
            return f"stride {self.stride}, +{cout - cin} zero channels"
        if self.kind == "se":
            return f"squeeze {cin}->{self.groups}->{cin}"  # groups holds the squeezed width
        if self.kind == "eca":
            return f"1-D conv over channels, kernel {self.kernel}"
        if self.kind in ("norm", "act"):
            return f"{cin} channels"
        if self.kind == "fc":
            return f"{cin}->{cout}"
        if self.kind == "dropout":
            return "training only"
        return "global average"


KINDS = (
    "conv",
    "norm",
    "act",
    "maxpool",
    "avgpool",
    "avgpool-same",
    "blur",
    "se",
    "eca",
    "zero-pad",
    "global-avgpool",
    "dropout",
    "fc",
)


class BlockPlan(NamedTuple):  # a NamedTuple, built fast: 50 per ResNet-152 on every edit
    name: str  # "layer2.0"
    stage: str
    index: int
    kind: str  # the spec's block: basic, bottleneck, preact, preact_bottleneck
    in_shape: Shape
    out_shape: Shape
    width: int  # inner width of the branch (bottleneck: the grouped 3x3's channels)
    stride: int
    groups: int
    shortcut: str  # identity, zero-pad, projection, avgpool-projection, none (see SHORTCUT_LABEL)
    layers: tuple[LayerPlan, ...]
    dilation: int = 1
    drop_path: float = 0.0  # stochastic depth: chance the branch is skipped in a training step
    # What the shortcut's layers read: the block's input, or (pre-activation blocks) the input
    # after the first norm and activation, as He et al.'s code and timm's ResNetV2.
    shortcut_from: str = "input"

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def rf(self) -> int:
        return max(layer.rf or 0 for layer in self.layers if layer.branch == "main")


@dataclass(frozen=True)
class StagePlan:
    name: str  # stem, layer1.., head
    in_shape: Shape
    out_shape: Shape
    layers: tuple[LayerPlan, ...]
    blocks: tuple[BlockPlan, ...] = ()
    reduction: int | None = None  # input px per output px after this part (timm's feature_info)

    @cached_property
    def params(self) -> int:
        return sum(map(_PARAMS, self.layers))

    @cached_property
    def macs(self) -> int:
        return sum(map(_MACS, self.layers))


_PARAMS, _MACS = attrgetter("params"), attrgetter("macs")  # sum(map(...)) runs in C: 900 rows per edit


@dataclass(frozen=True)
class NetworkPlan:
    spec: ResNetSpec
    stem: StagePlan
    stages: tuple[StagePlan, ...]
    head: StagePlan

    @property
    def parts(self) -> tuple[StagePlan, ...]:
        return (self.stem, *self.stages, self.head)

    @cached_property
    def layers(self) -> tuple[LayerPlan, ...]:
        return tuple(chain.from_iterable(part.layers for part in self.parts))

    @cached_property
    def blocks(self) -> tuple[BlockPlan, ...]:
        return tuple(block for stage in self.stages for block in stage.blocks)

    @cached_property
    def params(self) -> int:
        return sum(part.params for part in self.parts)

    @cached_property
    def macs(self) -> int:
        return sum(part.macs for part in self.parts)

    @property
    def output_shape(self) -> tuple[int]:
        return (self.spec.num_classes,)

    def activation_elements(self) -> int:
        """Elements one sample keeps for the backward pass: every layer's output but the in-place
        activations, plus each block's sum and activation (an estimate; autograd may keep a little
        more or less)."""
        per_layer = sum(layer.out_numel for layer in self.layers if layer.kind != "act")
        sums = sum(2 * numel(block.out_shape) for block in self.blocks)
        return per_layer + sums


def numel(shape: Shape) -> int:
    c, h, w = shape
    return c * h * w
