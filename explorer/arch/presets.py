"""Named networks, as data. The names are part of the URL (`?preset=`) and CLI (`--preset`) contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .spec import ResNetSpec, SpecError, spec_from_dict

# timm's ResNet family, each spec checked against timm's own model (strict state_dict load,
# outputs within 1e-5, parameters and MACs equal) by `python -m explorer.arch.timm_family --write`.
FAMILY_FILE = Path(__file__).with_name("timm_family.json")
_FAMILY_DATA: dict[str, Any] = json.loads(FAMILY_FILE.read_text())


def _stages(blocks: list[int], channels: list[int], first_stride: int = 1) -> list[dict[str, int]]:
    """A stage list in the usual pattern: the first stage keeps the size, each later one halves it."""
    return [
        {"blocks": n, "channels": c, "stride": first_stride if i == 0 else 2}
        for i, (n, c) in enumerate(zip(blocks, channels, strict=True))
    ]


# torchvision.models.resnet: 3x224x224 ImageNet input, 1000 classes, no conv bias, 1x1+BN projections.
_TORCHVISION: dict[str, Any] = {
    "input": {"channels": 3, "height": 224, "width": 224},
    "num_classes": 1000,
    "stem": {"kind": "imagenet", "width": 64},
    "shortcut": "B",
}
_IMAGENET_WIDTHS = [64, 128, 256, 512]

# He et al. 2016, Sec. 4.2: 6n+2 layers on 32x32 CIFAR-10 images, widths 16/32/64, option A shortcuts.
_CIFAR: dict[str, Any] = {
    "input": {"channels": 3, "height": 32, "width": 32},
    "num_classes": 10,
    "stem": {"kind": "cifar", "width": 16},
    "block": "basic",
    "shortcut": "A",
}


def _cifar(n: int) -> dict[str, Any]:
    return {**_CIFAR, "stages": _stages([n, n, n], [16, 32, 64])}


def _torchvision(block: str, blocks: list[int], **extra: Any) -> dict[str, Any]:
    return {**_TORCHVISION, "block": block, "stages": _stages(blocks, _IMAGENET_WIDTHS), **extra}


PRESET_DATA: dict[str, dict[str, Any]] = {
    # d2l's network (d2l.ai, "Residual Networks"): a 1-channel ResNet-18 for Fashion-MNIST at
    # 96 px, convs with bias, 1x1 shortcuts without BN (`use_1x1conv`), 10 classes.
    "d2l-resnet18": {
        "input": {"channels": 1, "height": 96, "width": 96},
        "num_classes": 10,
        "stem": {"kind": "imagenet", "width": 64},
        "block": "basic",
        "stages": _stages([2, 2, 2, 2], _IMAGENET_WIDTHS),
        "shortcut": "B",
        "conv_bias": True,
        "shortcut_bn": False,
    },
    "resnet18": _torchvision("basic", [2, 2, 2, 2]),
    "resnet34": _torchvision("basic", [3, 4, 6, 3]),
    "resnet50": _torchvision("bottleneck", [3, 4, 6, 3]),
    "resnet101": _torchvision("bottleneck", [3, 4, 23, 3]),
    "resnet152": _torchvision("bottleneck", [3, 8, 36, 3]),
    "resnext50_32x4d": _torchvision("bottleneck", [3, 4, 6, 3], groups=32, width_per_group=4),
    "resnext101_32x8d": _torchvision("bottleneck", [3, 4, 23, 3], groups=32, width_per_group=8),
    "wide_resnet50_2": _torchvision("bottleneck", [3, 4, 6, 3], width_per_group=128),
    "wide_resnet101_2": _torchvision("bottleneck", [3, 4, 23, 3], width_per_group=128),
    "resnet20": _cifar(3),
    "resnet32": _cifar(5),
    "resnet44": _cifar(7),
    "resnet56": _cifar(9),
    "resnet110": _cifar(18),
    # Small enough to train in about a minute on a 2-core CPU at 28 px (docs/pages.md, "Train").
    "resnet-mini": {
        "input": {"channels": 1, "height": 28, "width": 28},
        "num_classes": 10,
        "stem": {"kind": "cifar", "width": 16},
        "block": "basic",
        "stages": _stages([1, 1, 1], [16, 32, 64]),
        "shortcut": "B",
    },
}

# The notable members of timm's family, as timm names them.
TIMM_PRESETS = (
    "resnet26t",
    "resnet50d",
    "resnetaa50d",
    "resnetrs50",
    "resnet50_gn",
    "seresnet50",
    "seresnext50_32x4d",
    "ecaresnet50d",
    "resnetv2_50",
)
PRESET_DATA.update({name: _FAMILY_DATA["verified"][name] for name in TIMM_PRESETS})

DEFAULT_PRESET = "d2l-resnet18"

# Presets that are torchvision models of the same name: their weights load with strict=True.
TORCHVISION_PRESETS = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "wide_resnet50_2",
    "wide_resnet101_2",
)

PRESETS: dict[str, ResNetSpec] = {name: spec_from_dict(data) for name, data in PRESET_DATA.items()}
FAMILY: dict[str, ResNetSpec] = {name: spec_from_dict(data) for name, data in _FAMILY_DATA["verified"].items()}
UNEXPRESSED: dict[str, str] = dict(_FAMILY_DATA["unexpressed"])  # timm's name -> why the spec cannot


def preset(name: str) -> ResNetSpec:
    """The spec of a named preset or timm ResNet; SpecError naming the presets otherwise."""
    try:
        return PRESETS[name] if name in PRESETS else FAMILY[name]
    except (KeyError, TypeError):
        raise SpecError(
            "preset", f"unknown preset {name!r}; known: {', '.join(PRESETS)}, and timm's ResNet names"
        ) from None
