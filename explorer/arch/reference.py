"""Published numbers from torchvision and timm's verified twins: the references for "verified".

torchvision ships each model's parameter count and GFLOPS (which are multiply-accumulates) in
its weights metadata; reading them downloads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layers import NetworkPlan
from .presets import FAMILY, PRESETS, TORCHVISION_PRESETS
from .spec import ResNetSpec


@dataclass(frozen=True)
class Published:
    name: str
    params: int
    gmacs: float  # torchvision's "_ops", three decimals


def published(name: str) -> Published | None:
    """torchvision's published numbers for a torchvision preset name, else None."""
    if name not in TORCHVISION_PRESETS:
        return None
    from torchvision.models import get_model_weights  # heavy import, only when asked

    meta = get_model_weights(name).DEFAULT.meta
    return Published(name, int(meta["num_params"]), float(meta["_ops"]))


def verified_against(plan: NetworkPlan) -> Published | None:
    """The published record this network matches exactly (same spec as the torchvision preset,
    same params, same GMACs to torchvision's three decimals), or None."""
    name = next((n for n in TORCHVISION_PRESETS if PRESETS[n] == plan.spec), None)
    ref = published(name) if name else None
    if ref and ref.params == plan.params and round(plan.macs / 1e9, 3) == round(ref.gmacs, 3):
        return ref
    return None


def timm_twin(spec: ResNetSpec) -> str | None:
    """The timm model this spec is, at any input size, if the family check verified it."""
    return next((name for name, other in FAMILY.items() if other == spec.with_input_of(other)), None)
