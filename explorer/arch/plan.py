"""plan_network(spec): the arithmetic of every layer of a spec, with no tensors allocated.

A ResNet's shapes, parameters and MACs are closed-form, so the plan answers in about a
millisecond where a forward pass (torchinfo) takes seconds. The model builder, the analysis,
the diagram and the code export all read this plan; tests check it against the built module.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

from .. import fmt
from .layers import SHORTCUT_LABEL, BlockPlan, LayerPlan, NetworkPlan, Shape, StagePlan, numel
from .spec import GROUP_NORM_GROUPS, ResNetSpec, SpecError


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


def make_divisible(value: float, divisor: int = 8) -> int:
    """The nearest multiple of `divisor`, at least `divisor` (timm's make_divisible, round_limit=0)."""
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


def se_width(channels: int, reduction: int) -> int:
    """Squeeze-and-excitation's inner width: channels / reduction, to a multiple of 8 (timm)."""
    return make_divisible(channels * (1 / reduction))


def eca_kernel(channels: int) -> int:
    """ECA's kernel grows with log2(channels), odd, at least 3 (Wang et al. 2020, Eq. 12)."""
    t = int(abs(math.log(channels, 2) + 1) / 2)
    return max(t if t % 2 else t + 1, 3)


class Point(NamedTuple):
    """Where the trace is: the tensor's (C, H, W), the receptive field and its jump (input px
    between neighbouring units). rf += (effective kernel - 1) * jump; jump *= stride (Araujo et
    al. 2019, "Computing Receptive Fields of Convolutional Neural Networks")."""

    shape: Shape
    rf: int
    jump: int

    def step(self, shape: Shape, kernel: int, stride: int, dilation: int = 1) -> Point:
        return _point((shape, self.rf + dilation * (kernel - 1) * self.jump, self.jump * stride))


# tuple.__new__ without NamedTuple's keyword handling: a plan is built on every edit, ~900 rows
# for ResNet-152, and this keeps analyze() above 500x torchinfo (benchmarks/analysis_speed.py).
_point = partial(tuple.__new__, Point)
_row = partial(tuple.__new__, LayerPlan)
_block_row = partial(tuple.__new__, BlockPlan)


class _Tracer:
    """Walks the network in forward order, appending one LayerPlan per module."""

    def __init__(self, spec: ResNetSpec) -> None:
        self.spec = spec
        self.layers: list[LayerPlan] = []
        self.stage = "stem"
        self.branch = "main"
        self.bias = spec.conv_bias

    def _add(self, name: str, kind: str, p: Point, q: Point, params: int = 0, macs: int = 0, kernel: int = 1,
             stride: int = 1, groups: int = 1, dilation: int = 1, ceil: bool = False) -> Point:  # fmt: skip
        self.layers.append(_row((name, kind, self.stage, p[0], q[0], params, macs, q[1], self.branch, kernel, stride,
                                 groups, False, dilation, ceil)))  # fmt: skip
        return q

    def conv(
        self, name: str, p: Point, out_channels: int, kernel: int, stride: int = 1, groups: int = 1, dilation: int = 1
    ) -> Point:
        (c, h, w), rf, jump = p
        size = dilation * (kernel - 1) + 1
        pad = (size - 1) // 2
        oh, ow = (h + 2 * pad - size) // stride + 1, (w + 2 * pad - size) // stride + 1
        per_output = (c // groups) * kernel * kernel
        bias = self.bias
        params = out_channels * per_output + (out_channels if bias else 0)
        out, rf = (out_channels, oh, ow), rf + (size - 1) * jump
        self.layers.append(_row((name, "conv", self.stage, p[0], out, params, out_channels * oh * ow * per_output, rf,
                                 self.branch, kernel, stride, groups, bias, dilation, False)))  # fmt: skip
        return _point((out, rf, jump * stride))

    def norm(self, name: str, p: Point) -> Point:
        spec = self.spec
        if not spec.batch_norm:
            return p
        channels = p[0][0]
        if spec.norm == "group" and channels % GROUP_NORM_GROUPS:
            raise SpecError(
                "norm",
                f"group norm splits channels into {GROUP_NORM_GROUPS} groups, but {name} has {channels} channels; "
                f"use channel counts divisible by {GROUP_NORM_GROUPS} or batch norm",
            )
        params = 0 if spec.norm == "frozen" else 2 * channels
        self.layers.append(_row((name, "norm", self.stage, p[0], p[0], params, 0, p[1], self.branch, 1, 1, 1, False,
                                 1, False)))  # fmt: skip
        return p

    def act(self, name: str, p: Point) -> Point:
        self.layers.append(_row((name, "act", self.stage, p[0], p[0], 0, 0, p[1], self.branch, 1, 1, 1, False, 1,
                                 False)))  # fmt: skip
        return p

    def pool(self, name: str, kind: str, p: Point, kernel: int, stride: int, ceil: bool = False) -> Point:
        c, h, w = p.shape
        if kind in ("maxpool", "blur"):
            out = (c, conv_out(h, kernel, stride, kernel // 2), conv_out(w, kernel, stride, kernel // 2))
        elif kind == "avgpool-same":  # pads right and bottom so the size stays (timm's AvgPool2dSame)
            out = p.shape
        elif ceil:
            out = (c, pool_out_ceil(h, kernel, stride), pool_out_ceil(w, kernel, stride))
        else:
            out = (c, conv_out(h, kernel, stride, 0), conv_out(w, kernel, stride, 0))
        macs = numel(out) * kernel * kernel if kind == "blur" else 0  # blur is a fixed depthwise conv
        return self._add(name, kind, p, p.step(out, kernel, stride), 0, macs, kernel=kernel, stride=stride, ceil=ceil)

    def anti_alias(self, name: str, p: Point, stride: int) -> Point:
        """Blur, then subsample (Zhang 2019): a 2x2 average or the binomial [1, 2, 1]^2 filter."""
        if self.spec.anti_alias == "avg":
            return self.pool(name, "avgpool", p, stride, stride)  # timm: nn.AvgPool2d(stride)
        return self.pool(name, "blur", p, 3, stride)

    def attention(self, name: str, p: Point) -> Point:
        c = p.shape[0]
        if self.spec.attention == "se":
            squeezed = se_width(c, self.spec.se_reduction)
            return self._add(name, "se", p, p, 2 * c * squeezed + squeezed + c, 2 * c * squeezed, groups=squeezed)
        if self.spec.attention == "eca":
            k = eca_kernel(c)
            return self._add(name, "eca", p, p, k, c * k, kernel=k)
        return p


def _stem(spec: ResNetSpec, t: _Tracer) -> Point:
    p = Point((spec.input.channels, spec.input.height, spec.input.width), 1, 1)
    width, kind = spec.stem.width, spec.stem.kind
    if kind == "imagenet":
        p = t.conv("conv1", p, width, 7, 2)
    elif kind == "cifar":
        p = t.conv("conv1", p, width, 3, 1)
    else:  # deep (ResNet-C) or tiered: conv1 is Sequential(conv, norm, act, conv, norm, act, conv), as timm
        half = width // 2
        p = t.conv("conv1.0", p, half if kind == "deep" else 3 * (half // 4), 3, 2)
        p = t.act("conv1.2", t.norm("conv1.1", p))
        p = t.conv("conv1.3", p, half, 3)
        p = t.act("conv1.5", t.norm("conv1.4", p))
        p = t.conv("conv1.6", p, width, 3)
    if spec.stem.norm:
        p = t.act("act1", t.norm("bn1", p))
    pool, aa = spec.stem.pooling, spec.anti_alias
    if pool == "max" and aa == "avg":
        p = t.pool("maxpool", "avgpool", p, 2, 2)  # timm's resnetaa: a 2x2 average instead
    elif pool == "max" and aa == "blur":
        p = t.anti_alias("maxpool.1", t.pool("maxpool.0", "maxpool", p, 3, 1), 2)
    elif pool == "max":
        p = t.pool("maxpool", "maxpool", p, 3, 2)
    elif pool == "conv":  # ResNet-RS: a strided 3x3 conv, norm, activation; indices as timm's Sequential
        p = t.conv("maxpool.0", p, width, 3, 1 if aa != "none" else 2)
        at = 1
        if aa != "none":
            p, at = t.anti_alias("maxpool.1", p, 2), 2
        p = t.act(f"maxpool.{at + 1}", t.norm(f"maxpool.{at}", p))
    return p


def choose_shortcut(spec: ResNetSpec, stage: int, name: str, x: Shape, fx: Shape) -> str:
    """Which shortcut this block gets, or ShapeMismatchError where F(x) + x cannot be formed."""
    if not spec.residual:
        return "none"
    kind = spec.stage_shortcut(stage)
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
    raise _mismatch(spec, stage, name, x, fx, why)


def _mismatch(spec: ResNetSpec, stage: int, name: str, x: Shape, fx: Shape, why: str) -> ShapeMismatchError:
    field_name = f"stages[{stage}].shortcut" if spec.stages[stage].shortcut else "shortcut"
    return ShapeMismatchError(
        field_name,
        f"in block {name}, F(x) + x is impossible: x is {fmt.shape(x)} but F(x) is {fmt.shape(fx)}, and {why}. "
        "Fix: a 1x1 projection shortcut (B) that maps x to F(x)'s shape, "
        "as d2l's Residual does with use_1x1conv=True.",
        stage,
        name,
        x,
        fx,
    )


class _Where(NamedTuple):
    """One block's place: its stage, index, stride and dilations (timm's make_blocks)."""

    stage: int
    index: int
    planes: int
    stride: int
    dilation: int
    first_dilation: int  # the 3x3 that subsamples keeps the previous stage's dilation
    drop_path: float


_where = partial(tuple.__new__, _Where)


def _branch(spec: ResNetSpec, t: _Tracer, name: str, p: Point, at: _Where, width: int, out: int) -> Point:
    """The residual branch F(x) of one block, in timm's module names and order."""
    aa = spec.anti_alias != "none" and (at.stride > 1 or at.first_dilation != at.dilation)
    first = width // spec.reduce_first
    on_1x1 = at.stride if spec.stride_on == "1x1" else 1
    on_3x3 = 1 if aa or spec.stride_on == "1x1" else at.stride
    if spec.block == "basic":
        p = t.act(f"{name}.act1", t.norm(f"{name}.bn1", t.conv(f"{name}.conv1", p, first, 3, on_3x3, 1,
                                                                  at.first_dilation)))  # fmt: skip
        if aa:
            p = t.anti_alias(f"{name}.aa", p, at.stride)
        p = t.norm(f"{name}.bn2", t.conv(f"{name}.conv2", p, out, 3, 1, 1, at.dilation))
    elif spec.block == "bottleneck":
        p = t.act(f"{name}.act1", t.norm(f"{name}.bn1", t.conv(f"{name}.conv1", p, first, 1, on_1x1)))
        p = t.conv(f"{name}.conv2", p, width, 3, on_3x3, spec.groups, at.first_dilation)
        p = t.act(f"{name}.act2", t.norm(f"{name}.bn2", p))
        if aa:
            p = t.anti_alias(f"{name}.aa", p, at.stride)
        p = t.norm(f"{name}.bn3", t.conv(f"{name}.conv3", p, out, 1))
    elif spec.block == "preact":  # BN-act before each conv (He et al. 2016b, "Identity Mappings")
        p = t.act(f"{name}.act1", t.norm(f"{name}.bn1", p))
        p = t.conv(f"{name}.conv1", p, first, 3, at.stride, 1, at.first_dilation)
        p = t.act(f"{name}.act2", t.norm(f"{name}.bn2", p))
        p = t.conv(f"{name}.conv2", p, out, 3, 1, 1, at.dilation)
    else:  # preact_bottleneck (timm's ResNetV2 PreActBottleneck: stride on the 3x3)
        p = t.act(f"{name}.act1", t.norm(f"{name}.bn1", p))
        p = t.conv(f"{name}.conv1", p, first, 1, on_1x1)
        p = t.act(f"{name}.act2", t.norm(f"{name}.bn2", p))
        p = t.conv(f"{name}.conv2", p, width, 3, on_3x3, spec.groups, at.first_dilation)
        p = t.act(f"{name}.act3", t.norm(f"{name}.bn3", p))
        p = t.conv(f"{name}.conv3", p, out, 1)
    return t.attention(f"{name}.se", p)


def _shortcut(spec: ResNetSpec, t: _Tracer, name: str, p: Point, at: _Where, kind: str, out: int) -> Point:
    """The shortcut's layers (timm's downsample_conv / downsample_avg); returns its output."""
    down = f"{name}.downsample"
    if kind == "zero-pad":
        c, h, w = p.shape
        shape = (out, conv_out(h, 1, at.stride, 0), conv_out(w, 1, at.stride, 0))
        return t._add(down, "zero-pad", p, p.step(shape, 1, at.stride), stride=at.stride)
    if kind == "projection":
        kernel = spec.shortcut_kernel if at.stride > 1 or at.dilation > 1 else 1
        p = t.conv(f"{down}.0", p, out, kernel, at.stride, 1, at.first_dilation if kernel > 1 else 1)
        return t.norm(f"{down}.1", p) if spec.shortcut_bn else p
    # ResNet-D (He et al. 2019, Sec. 4.2): average-pool before the 1x1 so that no input is skipped
    if at.dilation > 1:
        p = t.pool(f"{down}.0", "avgpool-same", p, 2, 1)
    elif at.stride > 1:
        p = t.pool(f"{down}.0", "avgpool", p, 2, at.stride, ceil=True)
    p = t.conv(f"{down}.1", p, out, 1)
    return t.norm(f"{down}.2", p) if spec.shortcut_bn else p


def _block(spec: ResNetSpec, t: _Tracer, p: Point, at: _Where) -> tuple[BlockPlan, Point]:
    name = f"layer{at.stage + 1}.{at.index}"
    start = len(t.layers)
    out = at.planes * spec.expansion
    width = at.planes * spec.width_per_group // 64 * spec.groups if spec.bottleneck else at.planes
    t.branch = "main"
    y = _branch(spec, t, name, p, at, width, out)
    kind = choose_shortcut(spec, at.stage, name, p.shape, y.shape)
    if kind not in ("identity", "none"):
        t.branch = "shortcut"
        s = _shortcut(spec, t, name, p, at, kind, out)
        if s.shape != y.shape:
            why = f"the {SHORTCUT_LABEL[kind]} shortcut makes it {fmt.shape(s.shape)}"
            raise _mismatch(spec, at.stage, name, p.shape, y.shape, why)
    if not spec.preact:  # post-activation: the activation follows the addition
        t.branch = "out"
        y = t.act(f"{name}.act{3 if spec.bottleneck else 2}", y)
    t.branch = "main"
    plan = BlockPlan(name, f"layer{at.stage + 1}", at.index, spec.block, p.shape, y.shape, width, at.stride,
                     spec.groups, kind, tuple(t.layers[start:]), at.dilation, at.drop_path,
                     "preact" if spec.preact else "input")  # fmt: skip
    return plan, y


def _stage_places(spec: ResNetSpec, reduction: int) -> list[list[_Where]]:
    """Stride, dilation and drop rate of every block. Past `output_stride`, a stage's stride
    turns into dilation of its convs (torchvision's replace_stride_with_dilation); the drop rate
    grows linearly from 0 at the first block to `drop_path` at the last (Huang et al. 2016)."""
    total = sum(stage.blocks for stage in spec.stages)
    places, dilation, index = [], 1, 0
    for i, stage in enumerate(spec.stages):
        stride, previous = stage.stride, dilation
        if spec.output_stride is not None and reduction * stride > spec.output_stride:
            dilation, stride = dilation * stride, 1
        else:
            reduction *= stride
        row = []
        for j in range(stage.blocks):
            rate = spec.drop_path * index / (total - 1) if total > 1 else 0.0
            first = previous if j == 0 else dilation
            row.append(_where((i, j, stage.channels, stride if j == 0 else 1, dilation, first, rate)))
            index += 1
        places.append(row)
    return places


def _same_geometry(block: BlockPlan, at: _Where) -> bool:
    """A block laid out as the one before it: both keep the shape, at the same dilation."""
    return block.index > 0 and at.stride == 1 and at.first_dilation == at.dilation == block.dilation


def _repeat(
    t: _Tracer, block: BlockPlan, before: _Where, p0: Point, q0: Point, p: Point, at: _Where
) -> tuple[BlockPlan, Point]:
    """The next of a stage's identical blocks: the same rows renamed, each receptive field moved
    by what the previous block added (its jump is the same). A third of plan_network's time on
    ResNet-152, whose third stage is 34 such blocks after its first two."""
    name, shift = f"{block.stage}.{at.index}", p[1] - p0[1]
    cut = len(block.name)
    rows = [
        _row((name + n[cut:], kind, stage, a, b, params, macs, rf + shift, branch, k, s, g, bias, d, ceil))
        for n, kind, stage, a, b, params, macs, rf, branch, k, s, g, bias, d, ceil in block.layers
    ]
    t.layers.extend(rows)
    repeated = _block_row((name, block.stage, at.index, block.kind, block.in_shape, block.out_shape, block.width, 1,
                           block.groups, block.shortcut, tuple(rows), block.dilation, at.drop_path,
                           block.shortcut_from))  # fmt: skip
    return repeated, _point((q0[0], q0[1] + shift, q0[2]))


def plan_network(spec: ResNetSpec) -> NetworkPlan:
    """Every layer of `spec` in forward order, with shapes, params, MACs and receptive fields."""
    t = _Tracer(spec)
    p = _stem(spec, t)
    stem = StagePlan("stem", (spec.input.channels, spec.input.height, spec.input.width), p.shape, tuple(t.layers),
                     (), p.jump)  # fmt: skip
    stages = []
    for i, places in enumerate(_stage_places(spec, p.jump)):
        start, stage_in, blocks = len(t.layers), p.shape, []
        t.stage = f"layer{i + 1}"
        previous = None
        for at in places:
            if previous is not None and _same_geometry(previous[0], at):
                block, q = _repeat(t, *previous, p, at)
            else:
                block, q = _block(spec, t, p, at)
            blocks.append(block)
            previous, p = (block, at, p, q), q
        stages.append(StagePlan(t.stage, stage_in, p.shape, tuple(t.layers[start:]), tuple(blocks), p.jump))
    t.stage, start, head_in = "head", len(t.layers), p.shape
    if spec.preact:  # v2 networks end with norm and activation, as the last block has no post-activation
        p = t.act("act_final", t.norm("bn_final", p))
    c = p.shape[0]
    pooled = Point((c, 1, 1), 0, 0)
    t.layers.append(LayerPlan("avgpool", "global-avgpool", "head", p.shape, (c, 1, 1), 0, 0, None))
    if spec.dropout > 0:
        t.layers.append(LayerPlan("dropout", "dropout", "head", (c, 1, 1), (c, 1, 1), 0, 0, None))
    n = spec.num_classes
    t.layers.append(LayerPlan("fc", "fc", "head", pooled.shape, (n, 1, 1), c * n + n, c * n, None, bias=True))
    head = StagePlan("head", head_in, (n, 1, 1), tuple(t.layers[start:]))
    return NetworkPlan(spec, stem, tuple(stages), head)


def check(spec: ResNetSpec) -> None:
    """Is `spec` a network that can be built? SpecError (ShapeMismatchError where F(x) + x does
    not fit) naming the field otherwise. The spec validates each field on its own; this is the
    check of how they fit together, done by the plan's arithmetic (a millisecond)."""
    plan_network(spec)
