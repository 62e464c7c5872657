"""analyze(spec): totals, per-stage and per-layer rows, memory estimate — arithmetic on the plan."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .layers import LayerPlan, NetworkPlan, Shape
from .plan import plan_network
from .spec import ResNetSpec

BYTES_PER_FLOAT32 = 4


# One row per layer: name, kind, stage, in_shape, out_shape, params, macs, rf (receptive field, px of input
# one output unit sees; None after global pooling), detail, branch. The plan's own rows, not a copy.
LayerInfo = LayerPlan


@dataclass(frozen=True)
class StageInfo:
    name: str  # stem, layer1.., head
    blocks: int
    output_shape: Shape
    params: int
    macs: int
    reduction: int | None  # input px per output px (None for the head, which pools globally)


@dataclass(frozen=True)
class Analysis:
    spec: ResNetSpec
    total_params: int
    trainable_params: int
    macs: int  # per sample; convs and linear layers as torchvision's "GFLOPS" (which are MACs)
    output_shape: tuple[int, ...]
    layers: tuple[LayerInfo, ...]
    stages: tuple[StageInfo, ...]
    plan: NetworkPlan

    @cached_property
    def activation_elements(self) -> int:
        """Elements per sample kept for the backward pass (estimate; see NetworkPlan)."""
        return self.plan.activation_elements()

    @cached_property
    def depth(self) -> int:
        """Weighted layers (convs + fc) on the main path: the "18" of ResNet-18."""
        return sum(1 for lp in self.layers if lp.kind in ("conv", "fc") and lp.branch == "main")

    def activation_bytes(self, batch_size: int, bytes_per_element: int = BYTES_PER_FLOAT32) -> int:
        """Estimated activation memory for one training step at `batch_size` (float32 by default)."""
        return self.activation_elements * batch_size * bytes_per_element


def analyze_plan(plan: NetworkPlan) -> Analysis:
    layers = plan.layers
    stages = tuple(
        StageInfo(part.name, len(part.blocks), part.out_shape, part.params, part.macs, part.reduction)
        for part in plan.parts
    )
    return Analysis(
        spec=plan.spec,
        total_params=plan.params,
        trainable_params=plan.params,  # every parameter trains; BN running stats are buffers
        macs=plan.macs,
        output_shape=plan.output_shape,
        layers=layers,
        stages=stages,
        plan=plan,
    )


def analyze(spec: ResNetSpec) -> Analysis:
    """Shapes, parameters and MACs of `spec`, derived by arithmetic (no weights allocated)."""
    return analyze_plan(plan_network(spec))
