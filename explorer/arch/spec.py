"""ResNetSpec: the one description of a network that everything else is derived from.

A spec is a frozen dataclass, validated on construction, with a JSON round trip
(`spec.to_json()` / `spec_from_json(text)`). Every bad value raises `SpecError`, whose
message names the field, the value and what is allowed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..links import is_whole_number
from .validate import SpecError, check_bool, check_choice, check_float, check_int, check_keys

# Documented ranges (docs/configuration.md). They keep a typo from asking for a 10^9-px input
# or a million blocks, which would hang the analysis or exhaust memory when built.
MAX_SIDE = 4096  # px, input height and width
MAX_CHANNELS = 8192  # input channels, stem width, stage channels
MAX_CLASSES = 100_000
MAX_BLOCKS_PER_STAGE = 500
MAX_TOTAL_BLOCKS = 1000  # He et al. 2016 trained a 1202-layer ResNet (600 blocks)
MAX_STAGES = 16
MAX_GROUPS = 1024
MAX_WIDTH_PER_GROUP = 8192
MAX_JSON_BYTES = 100_000  # a spec is well under 10 kB; anything bigger is not a spec
MAX_JSON_DEPTH = 8

STEMS = ("imagenet", "cifar", "deep", "tiered")
STEM_POOLS = ("max", "conv", "none")
BLOCKS = ("basic", "bottleneck", "preact", "preact_bottleneck")
SHORTCUTS = ("identity", "A", "B", "C", "D")
ATTENTIONS = ("none", "se", "eca")
ANTI_ALIASES = ("none", "avg", "blur")
NORMS = ("batch", "group", "frozen")
ACTIVATIONS = ("relu", "silu")
STRIDE_ON = ("3x3", "1x1")
GROUP_NORM_GROUPS = 32  # Wu & He 2018's default, and timm's resnet50_gn

# How many output channels a block has per unit of its stage's `channels` (torchvision's
# `expansion`): a bottleneck widens back out 4x after its 1x1-3x3-1x1 (He et al. 2016, Sec. 4.1).
EXPANSION = {"basic": 1, "bottleneck": 4, "preact": 1, "preact_bottleneck": 4}
BOTTLENECKS = ("bottleneck", "preact_bottleneck")
PREACT = ("preact", "preact_bottleneck")

SHORTCUT_HELP = {
    "identity": "x is added as it is; fails where a block changes shape",
    "A": "identity; where the shape changes, x subsampled and zero-padded to the new channels (no parameters)",
    "B": "identity; where the shape changes, a strided 1x1 convolution maps x to the new shape",
    "C": "a 1x1 projection on every block, even where the shapes match",
    "D": "identity; where the shape changes, 2x2 average pooling, then a 1x1 convolution (ResNet-D)",
}
# The same in a few words, with the letter the stage table uses (He et al. 2016's options A-C;
# D from He et al. 2019, "Bag of Tricks").
SHORTCUT_NAME = {
    "identity": "identity only",
    "A": "A: zero-padding",
    "B": "B: 1x1 projection",
    "C": "C: 1x1 on every block",
    "D": "D: avg-pool + 1x1",
}


@dataclass(frozen=True)
class InputSpec:
    channels: int = 3  # 1 for grey-scale (Fashion-MNIST), 3 for colour
    height: int = 224  # px
    width: int = 224  # px

    def __post_init__(self) -> None:
        check_int("input.channels", self.channels, 1, MAX_CHANNELS)
        check_int("input.height", self.height, 1, MAX_SIDE)
        check_int("input.width", self.width, 1, MAX_SIDE)


def input_from_text(text: str, field_name: str = "input") -> InputSpec:
    """'3,224,224' -> InputSpec(3, 224, 224): the one C,H,W parser of the CLI, URLs and pages."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3 or not all(is_whole_number(p) for p in parts):  # ASCII: int('²') fails
        raise SpecError(field_name, f"expected C,H,W as three whole numbers such as 3,224,224, got {text!r}")
    return InputSpec(*(int(p) for p in parts))


@dataclass(frozen=True)
class StemSpec:
    # imagenet: 7x7/2 conv + 3x3/2 max-pool (He et al. 2016); cifar: one 3x3/1 conv, no pool
    # (He et al. 2016, Sec. 4.2); deep: three 3x3 convs then the max-pool (ResNet-C, He et al.
    # 2019 "Bag of Tricks", Sec. 4.2), the first two at half the width; tiered: the same with
    # the first at 3/8 of the width (timm's resnet*t: 24, 32, 64).
    kind: str = "imagenet"
    width: int = 64  # output channels of the stem
    # max: 3x3/2 max-pool; conv: a 3x3/2 conv + norm + activation instead (ResNet-RS, Bello et al.
    # 2021); none. None: the kind's own (none for cifar, max otherwise).
    pool: str | None = None
    # False: no norm and activation after the stem's last conv (pre-activation networks, whose
    # first block starts with them; timm's ResNetV2).
    norm: bool = True

    def __post_init__(self) -> None:
        check_choice("stem.kind", self.kind, STEMS)
        check_int("stem.width", self.width, 1, MAX_CHANNELS)
        if self.pool is not None:
            check_choice("stem.pool", self.pool, STEM_POOLS)
        check_bool("stem.norm", self.norm)
        least = {"deep": 2, "tiered": 8}.get(self.kind, 1)
        if self.width < least:
            raise SpecError("stem.width", f"{self.width} is too small for the {self.kind} stem; allowed {least}..")

    @property
    def pooling(self) -> str:
        return self.pool or ("none" if self.kind == "cifar" else "max")


@dataclass(frozen=True)
class StageSpec:
    blocks: int = 2  # residual blocks in this stage
    channels: int = 64  # base width ("planes"); a bottleneck stage outputs 4x this
    stride: int = 1  # 2 halves height and width in the stage's first block
    shortcut: str | None = None  # None: the network's `shortcut`

    def validate(self, index: int) -> None:
        where = f"stages[{index}]"
        check_int(f"{where}.blocks", self.blocks, 1, MAX_BLOCKS_PER_STAGE)
        check_int(f"{where}.channels", self.channels, 1, MAX_CHANNELS)
        check_int(f"{where}.stride", self.stride, 1, 2)
        if self.shortcut is not None:
            check_choice(f"{where}.shortcut", self.shortcut, SHORTCUTS)


@dataclass(frozen=True)
class ResNetSpec:
    input: InputSpec = field(default_factory=InputSpec)
    num_classes: int = 1000
    stem: StemSpec = field(default_factory=StemSpec)
    block: str = "basic"  # basic (two 3x3), bottleneck (1x1-3x3-1x1), preact (He et al. 2016 v2)
    groups: int = 1  # grouped 3x3 in bottlenecks (ResNeXt, Xie et al. 2017)
    width_per_group: int = 64  # bottleneck width per group; 128 = wide ResNet-50-2
    stages: tuple[StageSpec, ...] = (
        StageSpec(2, 64, 1),
        StageSpec(2, 128, 2),
        StageSpec(2, 256, 2),
        StageSpec(2, 512, 2),
    )
    shortcut: str = "B"  # see SHORTCUT_HELP
    residual: bool = True  # False: the plain network, same layers without skip connections
    conv_bias: bool = False  # d2l's convs carry a bias; torchvision's don't (BN makes it redundant)
    batch_norm: bool = True
    shortcut_bn: bool = True  # BN after a 1x1 projection (torchvision yes, d2l no)
    # Start every residual branch at zero so each block begins as the identity
    # (Goyal et al. 2017, arXiv 1706.02677: +0.2-0.3% top-1).
    zero_init_residual: bool = False
    norm: str = "batch"  # batch; group (32 groups, Wu & He 2018); frozen (fixed statistics, fine-tuning)
    activation: str = "relu"  # relu or silu, everywhere but inside the attention modules (as timm)
    # Channel attention at the end of each residual branch: se (Hu et al. 2018) squeezes to
    # channels / se_reduction, rounded to a multiple of 8 as timm; eca (Wang et al. 2020) is one
    # 1-D conv across channels whose kernel grows with log2(channels).
    attention: str = "none"
    se_reduction: int = 16  # 16 in SENet; 4 in ResNet-RS
    # Blur before subsampling in strided blocks and the stem (Zhang 2019): avg is a 2x2 average,
    # blur the binomial [1, 2, 1] filter; the strided conv runs at stride 1 before it.
    anti_alias: str = "none"
    stride_on: str = "3x3"  # where a bottleneck subsamples: 3x3 (torchvision, "v1.5") or the first 1x1 (He et al.)
    # Largest input px per output px; later strides become dilation (torchvision's
    # replace_stride_with_dilation, timm's output_stride) for detection and segmentation backbones.
    output_stride: int | None = None
    reduce_first: int = 1  # the block's first conv at 1/reduce_first of its width (SENet-154: 2)
    shortcut_kernel: int = 1  # a strided projection's kernel (SENet-154: 3)
    drop_path: float = 0.0  # stochastic depth: the last block's drop rate, 0 at the first (Huang et al. 2016)
    dropout: float = 0.0  # before the classifier, training only

    def __post_init__(self) -> None:
        if not isinstance(self.input, InputSpec):
            raise SpecError("input", f"expected an object with channels, height, width, got {self.input!r}")
        if not isinstance(self.stem, StemSpec):
            raise SpecError("stem", f"expected an object with kind and width, got {self.stem!r}")
        check_int("num_classes", self.num_classes, 1, MAX_CLASSES)
        check_choice("block", self.block, BLOCKS)
        check_int("groups", self.groups, 1, MAX_GROUPS)
        check_int("width_per_group", self.width_per_group, 1, MAX_WIDTH_PER_GROUP)
        if self.block not in BOTTLENECKS and (self.groups != 1 or self.width_per_group != 64):
            raise SpecError(
                "groups" if self.groups != 1 else "width_per_group",
                f"{self.block} blocks support only groups=1 and width_per_group=64 "
                f"(got groups={self.groups}, width_per_group={self.width_per_group}); "
                "use bottleneck blocks for ResNeXt or wide ResNets",
            )
        check_choice("shortcut", self.shortcut, SHORTCUTS)
        for name in ("residual", "conv_bias", "batch_norm", "shortcut_bn", "zero_init_residual"):
            check_bool(name, getattr(self, name))
        self._check_options()
        if not isinstance(self.stages, tuple):
            object.__setattr__(self, "stages", tuple(self.stages))
        if not 1 <= len(self.stages) <= MAX_STAGES:
            raise SpecError("stages", f"{len(self.stages)} stages; allowed 1..{MAX_STAGES}")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, StageSpec):
                raise SpecError(f"stages[{i}]", f"expected an object with blocks, channels, stride, got {stage!r}")
            stage.validate(i)
        total = sum(s.blocks for s in self.stages)
        if total > MAX_TOTAL_BLOCKS:
            raise SpecError("stages", f"{total} blocks in all; allowed at most {MAX_TOTAL_BLOCKS}")
        for i, stage in enumerate(self.stages):
            if self.block in BOTTLENECKS and stage.channels * self.width_per_group // 64 < 1:
                raise SpecError(
                    "width_per_group",
                    f"stages[{i}].channels={stage.channels} x width_per_group={self.width_per_group} / 64 "
                    f"leaves less than one channel per group; each of the {self.groups} groups needs "
                    "at least one channel (raise width_per_group or the stage's channels)",
                )

    def _check_options(self) -> None:
        check_choice("norm", self.norm, NORMS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("attention", self.attention, ATTENTIONS)
        check_int("se_reduction", self.se_reduction, 1, 1024)
        check_choice("anti_alias", self.anti_alias, ANTI_ALIASES)
        check_choice("stride_on", self.stride_on, STRIDE_ON)
        if self.output_stride is not None:
            check_int("output_stride", self.output_stride, 1, MAX_SIDE)
        check_int("reduce_first", self.reduce_first, 1, 64)
        check_int("shortcut_kernel", self.shortcut_kernel, 1, 3)
        if self.shortcut_kernel == 2:
            raise SpecError("shortcut_kernel", "2 has no centre; allowed 1 or 3")
        check_float("drop_path", self.drop_path, 0.0, 0.9)
        check_float("dropout", self.dropout, 0.0, 0.9)
        if self.stride_on == "1x1" and self.block not in BOTTLENECKS:
            raise SpecError("stride_on", f"'1x1' needs bottleneck blocks; {self.block} blocks stride their first 3x3")
        if self.anti_alias != "none" and (self.block in PREACT or self.stride_on == "1x1"):
            raise SpecError(
                "anti_alias",
                f"{self.anti_alias!r} blurs after a strided 3x3 and its activation; allowed with basic or "
                "bottleneck blocks striding their 3x3 (timm's resnetaa/resnetblur), not "
                f"{self.block} blocks with stride_on={self.stride_on!r}",
            )

    # ----- derived views -----------------------------------------------------------------
    @property
    def expansion(self) -> int:
        return EXPANSION[self.block]

    @property
    def preact(self) -> bool:
        return self.block in PREACT

    @property
    def bottleneck(self) -> bool:
        return self.block in BOTTLENECKS

    def stage_shortcut(self, index: int) -> str:
        return self.stages[index].shortcut or self.shortcut

    def with_input(self, channels: int, height: int, width: int) -> ResNetSpec:
        """A copy of this network for another input size (the layers adapt; the params don't change
        except the first conv's input channels)."""
        return replace(self, input=InputSpec(channels, height, width))

    def with_input_of(self, other: ResNetSpec) -> ResNetSpec:
        """This network at `other`'s input size (to compare two networks whatever their inputs)."""
        return replace(self, input=other.input)

    def with_classes(self, num_classes: int) -> ResNetSpec:
        return replace(self, num_classes=num_classes)

    # ----- JSON ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data; options left at their defaults are left out, so the JSON of a network that
        uses none of them reads as it always has."""
        data = asdict(self)
        data["stages"] = [
            {k: v for k, v in stage.items() if not (k == "shortcut" and v is None)} for stage in data["stages"]
        ]
        data["stem"] = {k: v for k, v in data["stem"].items() if (k, v) not in (("pool", None), ("norm", True))}
        return {k: v for k, v in data.items() if k not in _OPTION_DEFAULTS or v != _OPTION_DEFAULTS[k]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


# ----- parsing ---------------------------------------------------------------------------------
# The fields added for the wider ResNet family: JSON leaves them out at their defaults.
_OPTION_DEFAULTS = {
    name: ResNetSpec.__dataclass_fields__[name].default
    for name in (
        "norm",
        "activation",
        "attention",
        "se_reduction",
        "anti_alias",
        "stride_on",
        "output_stride",
        "reduce_first",
        "shortcut_kernel",
        "drop_path",
        "dropout",
    )
}
_TOP_KEYS = {f.name for f in ResNetSpec.__dataclass_fields__.values()}
_INPUT_KEYS = {"channels", "height", "width"}
_STEM_KEYS = {"kind", "width", "pool", "norm"}
_STAGE_KEYS = {"blocks", "channels", "stride", "shortcut"}


def spec_from_dict(data: Any) -> ResNetSpec:
    """Build a validated spec from plain data (as parsed from JSON). Missing keys take defaults."""
    data = dict(check_keys("", data, _TOP_KEYS))
    if "input" in data:
        data["input"] = InputSpec(**check_keys("input", data["input"], _INPUT_KEYS))
    if "stem" in data:
        data["stem"] = StemSpec(**check_keys("stem", data["stem"], _STEM_KEYS))
    if "stages" in data:
        stages = data["stages"]
        if not isinstance(stages, list):
            raise SpecError("stages", f"expected a list of stages, got {type(stages).__name__}")
        if not stages:
            raise SpecError("stages", f"empty list; a network needs 1..{MAX_STAGES} stages")
        if len(stages) > MAX_STAGES:
            raise SpecError("stages", f"{len(stages)} stages; allowed 1..{MAX_STAGES}")
        data["stages"] = tuple(StageSpec(**check_keys(f"stages[{i}]", s, _STAGE_KEYS)) for i, s in enumerate(stages))
    return ResNetSpec(**data)


def _reject_constant(name: str) -> None:
    raise SpecError("spec", f"{name} is not a number JSON allows here; use a finite integer")


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def spec_from_json(text: str | bytes) -> ResNetSpec:
    """Parse and validate a JSON spec. Hostile input (huge, deeply nested, NaN) raises SpecError."""
    if isinstance(text, bytes | bytearray):
        if len(text) > MAX_JSON_BYTES:
            raise SpecError("spec", f"{len(text):,} bytes; a spec file may be at most {MAX_JSON_BYTES:,} bytes")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError("spec", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(text, str):
        raise SpecError("spec", f"expected JSON text, got {type(text).__name__}")
    if len(text) > MAX_JSON_BYTES:
        raise SpecError("spec", f"{len(text):,} characters; a spec file may be at most {MAX_JSON_BYTES:,}")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SpecError("spec", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise SpecError("spec", f"JSON nested too deeply; a spec is at most {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise SpecError("spec", f"invalid JSON: {exc}") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise SpecError("spec", f"JSON nested too deeply; a spec is at most {MAX_JSON_DEPTH} levels deep")
    return spec_from_dict(data)
