"""The ResNet family as timm names it, each network checked against timm's own implementation.

`spec_from_timm(name)` reads a spec off timm's model (built on the meta device: no weights, no
download). `check(name)` builds timm's model and ours, loads timm's state_dict into ours strictly,
randomises BN statistics, and compares outputs at two input sizes (one odd), parameters and MACs.
timm is a development dependency: the app itself reads the verified specs from `timm_family.json`,
which `python -m explorer.arch.timm_family --write` regenerates from the check (a test keeps it honest).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from .checkpoint import load_state_dict, spec_from_state_dict
from .model import build_model
from .plan import plan_network
from .presets import FAMILY_FILE
from .spec import ResNetSpec, SpecError

TOLERANCE = 1e-5  # max abs difference of the logits
SIZES = ((64, 64), (97, 97))  # one even, one odd input side
# timm's ResNetV2 without BiT's weight standardisation and group norm
V2_NAMES = ("resnetv2_18", "resnetv2_18d", "resnetv2_34", "resnetv2_34d", "resnetv2_50", "resnetv2_50d",
            "resnetv2_50t", "resnetv2_101", "resnetv2_101d", "resnetv2_152", "resnetv2_152d", "resnetv2_50d_gn",
            "resnetv2_50d_evos", "resnetv2_50d_frn")  # fmt: skip


def _timm() -> Any:
    try:
        import timm
    except ImportError:
        raise SpecError("timm", "timm is not installed; pip install -r requirements-dev.txt") from None
    return timm


def resnet_names() -> list[str]:
    """Every model in timm.models.resnet (81 in timm 1.0)."""
    return sorted(_timm().list_models(module="resnet"))


def _reference(name: str, device: str | torch.device = "meta") -> nn.Module:
    with torch.device(device):
        return _timm().create_model(name, pretrained=False)


def _options(model: nn.Module) -> dict[str, Any]:
    """What timm's modules show and the weights do not: activation, anti-aliasing, ResNet-D
    pooling in ResNetV2, dilation, drop rates."""
    names = {type(m).__name__ for name, m in model.named_modules() if ".se." not in f".{name}."}
    acts = names & {"ReLU", "SiLU", "GELU", "Mish", "LeakyReLU", "Hardswish"}
    if acts - {"ReLU", "SiLU"} or len(acts) > 1:
        raise SpecError("activation", f"timm's model uses {', '.join(sorted(acts))}; allowed one of relu, silu")
    options: dict[str, Any] = {"activation": "silu" if acts == {"SiLU"} else "relu"}
    aa = [type(m).__name__ for name, m in model.named_modules() if name.endswith(".aa")]
    aa = [kind for kind in aa if kind != "Identity"]
    if aa:
        options["anti_alias"] = "blur" if aa[0] == "BlurPool2d" else "avg"
    if any(type(m).__name__ == "DownsampleAvg" for m in model.modules()):
        options["shortcut"] = "D"
    dilations = [m.dilation[0] for m in model.modules() if isinstance(m, nn.Conv2d)]
    if max(dilations) > 1:
        options["output_stride"] = 32 // max(dilations)
    options["dropout"] = float(getattr(model, "drop_rate", 0.0))
    rates = [float(m.drop_prob) for m in model.modules() if type(m).__name__ == "DropPath"]
    options["drop_path"] = max(rates, default=0.0)
    return options


def spec_from_timm(name: str, input_size: tuple[int, int] = (224, 224)) -> ResNetSpec:
    """The spec of timm's model `name` (its configuration only; no weights are loaded)."""
    return _spec_of(_reference(name), input_size)


def _spec_of(model: nn.Module, input_size: tuple[int, int] = (224, 224)) -> ResNetSpec:
    spec = spec_from_state_dict(model.state_dict(), input_size)
    return replace(spec, **_options(model))


@dataclass(frozen=True)
class Parity:
    name: str
    spec: ResNetSpec | None
    params: tuple[int, int] = (0, 0)  # timm's, the plan's
    macs: tuple[int, int] = (0, 0)  # timm's (torch's FLOP counter / 2), the plan's, at 224 px
    max_diff: float = math.nan  # largest |logit difference| over SIZES, relative to the largest |logit| if above 1
    reason: str = ""  # why it is not expressed, when spec is None

    @property
    def ok(self) -> bool:
        counts = self.spec is not None and self.params[0] == self.params[1] and self.macs[0] == self.macs[1]
        return counts and not self.max_diff > TOLERANCE  # nan: outputs not compared (structure only)


def _macs(model: nn.Module, side: tuple[int, int]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, *side))
    return counter.get_total_flops() // 2


def randomise(model: nn.Module, seed: int) -> None:
    """Weights at their usual scale and BN statistics away from 0/1, so a wrong norm, order or
    missing layer shows in the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                t.copy_(torch.rand(t.shape, generator=g) * 0.2 - 0.1)
            elif t.dim() == 1:  # norm scales
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.75)
            else:
                fan_in = t[0].numel()
                t.copy_((torch.rand(t.shape, generator=g) * 2 - 1) * math.sqrt(3 / fan_in))


def materialise(model: nn.Module) -> nn.Module:
    """A meta-device model on the CPU with its non-persistent buffers (blur filters) refilled."""
    model = model.to_empty(device="cpu")
    for m in model.modules():
        if hasattr(m, "init_non_persistent_buffers"):
            m.init_non_persistent_buffers()
    return model


def structure(name: str, macs: bool = True) -> Parity:
    """Spec, parameters and (unless `macs` is False: torch's counter takes seconds on the
    deepest) MACs against timm's model on the meta device (no weights)."""
    meta = _reference(name)
    try:
        spec = _spec_of(meta)
    except SpecError as exc:
        return Parity(name, None, reason=str(exc))
    plan = plan_network(spec)
    counted = (_macs(meta, (224, 224)), plan.macs) if macs else (0, 0)
    return Parity(name, spec, (sum(p.numel() for p in meta.parameters()), plan.params), counted)


def output_difference(name: str, spec: ResNetSpec, seed: int = 0) -> float:
    """Largest |logit difference| between timm's model and ours with timm's (randomised) weights
    loaded strictly, over SIZES; relative to the largest |logit| where that is above 1, since
    timm's ResNetV2 classifies with a 1x1 conv whose float sums round differently from nn.Linear's
    (the features before it are bitwise equal)."""
    reference = materialise(_reference(name)).eval()
    randomise(reference, seed)
    worst = 0.0
    for side in SIZES:
        with torch.device("meta"):
            ours = build_model(spec.with_input(3, *side))
        ours = load_state_dict(materialise(ours).eval(), reference.state_dict())
        x = torch.randn(2, 3, *side, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            expected = reference(x)
            diff = (ours(x) - expected).abs().max().item()
        worst = max(worst, diff / max(1.0, expected.abs().max().item()))
    return worst


def check(name: str, seed: int = 0) -> Parity:
    """Our network against timm's `name`: strict load, outputs, parameters and MACs."""
    result = structure(name)
    if result.spec is None:
        return result
    return replace(result, max_diff=output_difference(name, result.spec, seed))


def write_family(results: list[Parity]) -> None:
    verified = {r.name: r.spec.to_dict() for r in results if r.ok}
    reasons = {r.name: r.reason or f"outputs differ by {r.max_diff:.2g}" for r in results if not r.ok}
    FAMILY_FILE.write_text(json.dumps({"verified": verified, "unexpressed": reasons}, indent=1) + "\n")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Check every timm ResNet against ours.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {FAMILY_FILE.name} from the results")
    parser.add_argument("names", nargs="*", help="timm model names (default: all)")
    args = parser.parse_args()
    names = args.names or [*resnet_names(), *V2_NAMES]
    results = []
    for name in names:
        r = check(name)
        results.append(r)
        status = "ok" if r.ok else f"NOT EXPRESSED: {r.reason or r.max_diff}"
        print(f"{name:<28} params {r.params[0]:>12,} macs {r.macs[0]:>15,} diff {r.max_diff:.1e} {status}")
    in_resnet = [r for r in results if not r.name.startswith("resnetv2")]
    print(f"timm coverage: {sum(r.ok for r in in_resnet)} of {len(in_resnet)}")
    if args.write:
        write_family(results)


if __name__ == "__main__":
    main()
