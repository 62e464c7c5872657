"""NetworkPlan: the arithmetic of every layer of a spec, with no tensors allocated.

A ResNet's shapes, parameters and MACs are closed-form, so the plan answers in about a
millisecond where a forward pass (torchinfo) takes seconds. The model builder, the analysis,
the diagram and the code export all read this plan; tests check it against the built module.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from . import fmt
from .spec import ResNetSpec, SpecError

Shape = tuple[int, int, int]  # (C, H, W) of one sample

# What a block adds to its branch's output, by the reason it was chosen.
SHORTCUT_LABEL = {
    "identity": "identity",
    "zero-pad": "zero-pad",
    "projection": "1x1 projection",
    "avgpool-projection": "avg-pool + 1x1",
    "none": "no skip (plain)",
}


class ShapeMismatchError(SpecError):
    """The residual addition F(x) + x is impossible in one block: the shapes differ."""

    def __init__(self, field_name: str, message: str, stage: int, block: str, x: Shape, fx: Shape) -> None:
        super().__init__(field_name, message)
        self.stage = stage  # index into spec.stages
        self.block = block  # module name, e.g. "layer2.0"
        self.x_shape = x
        self.fx_shape = fx


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def pool_out_ceil(size: int, kernel: int, stride: int) -> int:
    """nn.AvgPool2d(kernel, stride, ceil_mode=True) with no padding."""
    return -(-(size - kernel) // stride) + 1 if size >= kernel else 1


class LayerPlan(NamedTuple):  # a NamedTuple: ~500 of these per ResNet-152, built on every edit
    name: str  # module name in build_model(spec), torchvision-style ("layer2.0.downsample.0")
    kind: str  # conv, bn, maxpool, avgpool, zero-pad, global-avgpool, fc
    stage: str  # stem, layer1.., head
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int  # multiply-accumulates per sample (convs and linear layers, as torchvision counts)
    rf: int | None  # receptive field of one output unit, in input px; None once pooled globally
    branch: str = "main"  # main or shortcut
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    bias: bool = False

    @property
    def out_numel(self) -> int:
        c, h, w = self.out_shape
        return c * h * w

    @property
    def output_shape(self) -> Shape:
        return self.out_shape

    @property
    def receptive_field(self) -> int | None:
        return self.rf

    @property
    def detail(self) -> str:
        """'3x3/2, 64->128' and the like, for tables and the diagram."""
        cin, cout = self.in_shape[0], self.out_shape[0]
        if self.kind == "conv":
            groups = f", groups {self.groups}" if self.groups > 1 else ""
            return f"{self.kernel}x{self.kernel}/{self.stride}, {cin}->{cout}{groups}{', bias' if self.bias else ''}"
        if self.kind in ("maxpool", "avgpool"):
            return f"{self.kernel}x{self.kernel}/{self.stride}"
        if self.kind == "zero-pad":
            return f"stride {self.stride}, +{cout - cin} zero channels"
        if self.kind == "bn":
            return f"{cin} channels"
        if self.kind == "fc":
            return f"{cin}->{cout}"
        return "global average"


@dataclass(frozen=True)
class BlockPlan:
    name: str  # "layer2.0"
    stage: str
    index: int
    kind: str  # basic, bottleneck, preact
    in_shape: Shape
    out_shape: Shape
    width: int  # inner width of the branch (bottleneck: the grouped 3x3's channels)
    stride: int
    groups: int
    shortcut: str  # identity, zero-pad, projection, avgpool-projection, none (see SHORTCUT_LABEL)
    layers: tuple[LayerPlan, ...]

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
        return sum(layer.params for layer in self.layers)

    @cached_property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)


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
        return tuple(layer for part in self.parts for layer in part.layers)

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
        """Elements one sample keeps for the backward pass: every layer's output, plus each
        block's sum and ReLU (an estimate; autograd may keep a little more or less)."""
        per_layer = sum(layer.out_numel for layer in self.layers)
        sums = sum(2 * _numel(block.out_shape) for block in self.blocks)
        return per_layer + sums


def _numel(shape: Shape) -> int:
    c, h, w = shape
    return c * h * w


class _Tracer:
    """Walks the network in forward order, appending layers and tracking the receptive field.

    rf and jump follow the usual recurrence (Araujo et al. 2019, "Computing Receptive Fields of
    Convolutional Neural Networks"): rf += (kernel - 1) * jump; jump *= stride.
    """

    def __init__(self, spec: ResNetSpec) -> None:
        self.spec = spec
        self.layers: list[LayerPlan] = []

    def conv(
        self,
        name: str,
        stage: str,
        x: Shape,
        rf: tuple[int, int],
        out_channels: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        branch: str = "main",
    ) -> tuple[Shape, tuple[int, int]]:
        c, h, w = x
        padding = kernel // 2
        out = (out_channels, conv_out(h, kernel, stride, padding), conv_out(w, kernel, stride, padding))
        bias = self.spec.conv_bias
        params = out_channels * (c // groups) * kernel * kernel + (out_channels if bias else 0)
        macs = out[0] * out[1] * out[2] * (c // groups) * kernel * kernel
        new_rf = (rf[0] + (kernel - 1) * rf[1], rf[1] * stride)
        self.layers.append(
            LayerPlan(name, "conv", stage, x, out, params, macs, new_rf[0], branch, kernel, stride, groups, bias)
        )
        return out, new_rf

    def bn(self, name: str, stage: str, x: Shape, rf: tuple[int, int], branch: str = "main") -> None:
        if self.spec.batch_norm:
            self.layers.append(LayerPlan(name, "bn", stage, x, x, 2 * x[0], 0, rf[0], branch))

    def pool(
        self, name: str, kind: str, stage: str, x: Shape, rf: tuple[int, int], kernel: int, stride: int, branch: str
    ) -> tuple[Shape, tuple[int, int]]:
        c, h, w = x
        if kind == "maxpool":
            out = (c, conv_out(h, kernel, stride, kernel // 2), conv_out(w, kernel, stride, kernel // 2))
        else:  # avgpool in ResNet-D's shortcut: kernel = stride, ceil_mode
            out = (c, pool_out_ceil(h, kernel, stride), pool_out_ceil(w, kernel, stride))
        new_rf = (rf[0] + (kernel - 1) * rf[1], rf[1] * stride)
        self.layers.append(LayerPlan(name, kind, stage, x, out, 0, 0, new_rf[0], branch, kernel, stride))
        return out, new_rf


def _stem(spec: ResNetSpec, t: _Tracer) -> tuple[Shape, tuple[int, int]]:
    x: Shape = (spec.input.channels, spec.input.height, spec.input.width)
    rf = (1, 1)
    width = spec.stem.width
    if spec.stem.kind == "imagenet":
        x, rf = t.conv("conv1", "stem", x, rf, width, 7, 2)
    elif spec.stem.kind == "cifar":
        x, rf = t.conv("conv1", "stem", x, rf, width, 3, 1)
    else:  # deep stem (ResNet-C): conv1 is a Sequential(conv, bn, relu, conv, bn, relu, conv), as timm
        x, rf = t.conv("conv1.0", "stem", x, rf, width // 2, 3, 2)
        t.bn("conv1.1", "stem", x, rf)
        x, rf = t.conv("conv1.3", "stem", x, rf, width // 2, 3, 1)
        t.bn("conv1.4", "stem", x, rf)
        x, rf = t.conv("conv1.6", "stem", x, rf, width, 3, 1)
    t.bn("bn1", "stem", x, rf)
    if spec.stem.kind != "cifar":
        x, rf = t.pool("maxpool", "maxpool", "stem", x, rf, 3, 2, "main")
    return x, rf


def choose_shortcut(spec: ResNetSpec, stage: int, name: str, x: Shape, fx: Shape) -> str:
    """Which shortcut this block gets, or ShapeMismatchError where F(x) + x cannot be formed."""
    if not spec.residual:
        return "none"
    kind = spec.stage_shortcut(stage)
    field_name = f"stages[{stage}].shortcut" if spec.stages[stage].shortcut else "shortcut"
    if kind == "C":
        return "projection"
    if x == fx:
        return "identity"
    if kind == "B":
        return "projection"
    if kind == "D":
        return "avgpool-projection"
    if kind == "A" and fx[0] >= x[0]:
        return "zero-pad"
    why = (
        "zero-padding can add channels but not remove them"
        if kind == "A"
        else "the identity shortcut passes x through unchanged"
    )
    raise ShapeMismatchError(
        field_name,
        f"in block {name}, F(x) + x is impossible: x is {fmt.shape(x)} but F(x) is {fmt.shape(fx)}, and {why}. "
        "Fix: a 1x1 projection shortcut (B) that maps x to F(x)'s shape, "
        "as d2l's Residual does with use_1x1conv=True.",
        stage,
        name,
        x,
        fx,
    )


def _block(
    spec: ResNetSpec, t: _Tracer, stage: int, index: int, x: Shape, rf: tuple[int, int], planes: int, stride: int
) -> tuple[BlockPlan, tuple[int, int]]:
    stage_name = f"layer{stage + 1}"
    name = f"{stage_name}.{index}"
    start = len(t.layers)
    out_channels = planes * spec.expansion
    groups = spec.groups
    width = planes * spec.width_per_group // 64 * groups if spec.block == "bottleneck" else out_channels
    if spec.block == "basic":
        y, main_rf = t.conv(f"{name}.conv1", stage_name, x, rf, out_channels, 3, stride)
        t.bn(f"{name}.bn1", stage_name, y, main_rf)
        y, main_rf = t.conv(f"{name}.conv2", stage_name, y, main_rf, out_channels, 3)
        t.bn(f"{name}.bn2", stage_name, y, main_rf)
    elif spec.block == "bottleneck":
        # stride on the 3x3, as torchvision ("ResNet V1.5"): +0.5% top-1 over striding the 1x1
        y, main_rf = t.conv(f"{name}.conv1", stage_name, x, rf, width, 1)
        t.bn(f"{name}.bn1", stage_name, y, main_rf)
        y, main_rf = t.conv(f"{name}.conv2", stage_name, y, main_rf, width, 3, stride, groups)
        t.bn(f"{name}.bn2", stage_name, y, main_rf)
        y, main_rf = t.conv(f"{name}.conv3", stage_name, y, main_rf, out_channels, 1)
        t.bn(f"{name}.bn3", stage_name, y, main_rf)
    else:  # preact: BN-ReLU before each conv (He et al. 2016, "Identity Mappings in Deep ResNets")
        t.bn(f"{name}.bn1", stage_name, x, rf)
        y, main_rf = t.conv(f"{name}.conv1", stage_name, x, rf, out_channels, 3, stride)
        t.bn(f"{name}.bn2", stage_name, y, main_rf)
        y, main_rf = t.conv(f"{name}.conv2", stage_name, y, main_rf, out_channels, 3)
    shortcut = choose_shortcut(spec, stage, name, x, y)
    down = f"{name}.downsample"
    if shortcut == "zero-pad":
        t.layers.append(LayerPlan(down, "zero-pad", stage_name, x, y, 0, 0, rf[0], "shortcut", 1, stride))
    elif shortcut == "projection":
        s, s_rf = t.conv(f"{down}.0", stage_name, x, rf, out_channels, 1, stride, branch="shortcut")
        if spec.shortcut_bn:
            t.bn(f"{down}.1", stage_name, s, s_rf, "shortcut")
    elif shortcut == "avgpool-projection":
        # ResNet-D (He et al. 2019, Sec. 4.2): average-pool before the 1x1 so that no input is skipped
        s, s_rf = x, rf
        if stride > 1:
            s, s_rf = t.pool(f"{down}.0", "avgpool", stage_name, x, rf, stride, stride, "shortcut")
        s, s_rf = t.conv(f"{down}.1", stage_name, s, s_rf, out_channels, 1, 1, branch="shortcut")
        if spec.shortcut_bn:
            t.bn(f"{down}.2", stage_name, s, s_rf, "shortcut")
    plan = BlockPlan(
        name, stage_name, index, spec.block, x, y, width, stride, groups, shortcut, tuple(t.layers[start:])
    )
    return plan, main_rf


def plan_network(spec: ResNetSpec) -> NetworkPlan:
    """Every layer of `spec` in forward order, with shapes, params, MACs and receptive fields."""
    t = _Tracer(spec)
    x, rf = _stem(spec, t)
    stem = StagePlan("stem", (spec.input.channels, spec.input.height, spec.input.width), x, tuple(t.layers), (), rf[1])
    stages = []
    for i, stage in enumerate(spec.stages):
        start, stage_in, blocks = len(t.layers), x, []
        for j in range(stage.blocks):
            block, rf = _block(spec, t, i, j, x, rf, stage.channels, stage.stride if j == 0 else 1)
            blocks.append(block)
            x = block.out_shape
        stages.append(StagePlan(f"layer{i + 1}", stage_in, x, tuple(t.layers[start:]), tuple(blocks), rf[1]))
    start, head_in = len(t.layers), x
    if spec.block == "preact":  # v2 networks end with BN-ReLU, as the last block has no post-activation
        t.bn("bn_final", "head", x, rf)
    c = x[0]
    t.layers.append(LayerPlan("avgpool", "global-avgpool", "head", x, (c, 1, 1), 0, 0, None))
    n = spec.num_classes
    t.layers.append(LayerPlan("fc", "fc", "head", (c, 1, 1), (n, 1, 1), c * n + n, c * n, None, bias=True))
    head = StagePlan("head", head_in, (n, 1, 1), tuple(t.layers[start:]))
    return NetworkPlan(spec, stem, tuple(stages), head)
