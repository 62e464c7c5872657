"""One part of a network looked into, as the Design page shows when its diagram is clicked: the
stem, a residual block or the head, with the shape in and out, each weight's arithmetic written out
(3×3×64×64 + 64 = 36,928), the skip connection's path, and what the part does to an image.

CNN Explainer (Wang et al. 2020) teaches convolutions this way: one layer at a time, its numbers
and its output channels side by side."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import fmt
from ..arch.layers import SHORTCUT_LABEL, BlockPlan, LayerPlan, NetworkPlan, Shape, StagePlan
from ..arch.spec import ResNetSpec, SpecError

GREY_SAMPLE = 0  # scikit-learn's first digit, a 0: its ring shows edges in every direction


@dataclass(frozen=True)
class PartView:
    """What a clicked part is, in numbers: all arithmetic, no model built."""

    name: str  # "stem", "layer2.0", "head": the module name in build_model(spec)
    in_shape: Shape
    out_shape: Shape | tuple[int]
    params: int
    arithmetic: tuple[str, ...]  # "conv1: 3×3×64×64 + 64 = 36,928", one per layer with weights
    skip: str | None  # the shortcut's path, for blocks


def part_names(plan: NetworkPlan) -> list[str]:
    """Every part a diagram can show: the stem, each block, the head (module names)."""
    return ["stem", *(block.name for block in plan.blocks), "head"]


def weight_arithmetic(layer: LayerPlan) -> str | None:
    """How a layer's trainable parameters add up ("3×3×64×64 + 64 = 36,928"), or None for a
    layer without any."""
    if not layer.params:
        return None
    cin, cout = layer.in_shape[0], layer.out_shape[0]
    if layer.kind == "conv":
        terms = [f"{layer.kernel}×{layer.kernel}×{cin // layer.groups}×{cout}"] + ([str(cout)] if layer.bias else [])
    elif layer.kind == "norm":
        terms = [f"2×{cin}"]  # a scale and a shift per channel
    elif layer.kind == "se":  # two 1x1 convs with biases: squeeze to groups channels and back (SENet)
        terms = [f"{cin}×{layer.groups}", str(layer.groups), f"{layer.groups}×{cin}", str(cin)]
    elif layer.kind == "eca":
        terms = [str(layer.kernel)]  # one 1-D kernel shared by every channel (ECA-Net)
    elif layer.kind == "fc":
        terms = [f"{cin}×{cout}", str(cout)]
    else:
        raise ValueError(f"no arithmetic for a {layer.kind} layer with {layer.params} parameters")
    return f"{' + '.join(terms)} = {fmt.count(layer.params)}"


def skip_path(block: BlockPlan) -> str:
    """Where the block's input goes on its way to the sum, in words."""
    if block.shortcut == "none":
        return "none: a plain block, its output is F(x) alone"
    where = "the input after the first norm and activation" if block.shortcut_from != "input" else "x"
    if block.shortcut == "identity":
        return f"identity: {where} is added to F(x) unchanged ({fmt.shape(block.in_shape)})"
    steps = [layer.detail if layer.kind != "norm" else "norm" for layer in block.layers if layer.branch == "shortcut"]
    return (
        f"{SHORTCUT_LABEL[block.shortcut]}: {where} {fmt.shape(block.in_shape)} → {', '.join(steps)} "
        f"→ {fmt.shape(block.out_shape)}, added to F(x)"
    )


def _part(plan: NetworkPlan, name: str) -> StagePlan | BlockPlan:
    if name == "stem":
        return plan.stem
    if name == "head":
        return plan.head
    for block in plan.blocks:
        if block.name == name:
            return block
    raise SpecError("part", f"{name!r} is not in this network; it has {', '.join(part_names(plan))}")


def part_view(plan: NetworkPlan, name: str) -> PartView:
    part = _part(plan, name)
    lines = tuple(
        f"{layer.name.removeprefix(name + '.')}: {line}" for layer in part.layers if (line := weight_arithmetic(layer))
    )
    skip = skip_path(part) if isinstance(part, BlockPlan) else None
    out = plan.output_shape if name == "head" else part.out_shape
    return PartView(name, part.in_shape, out, sum(layer.params for layer in part.layers), lines, skip)


def sample_input(spec: ResNetSpec) -> torch.Tensor:
    """A sample picture as the network's input (1, C, H, W): one of scikit-learn's bundled digits
    (offline), scaled to the input size, copied to every channel, centred on zero."""
    from sklearn.datasets import load_digits

    digit = torch.from_numpy(load_digits().images[GREY_SAMPLE]).float().div(16)  # 8x8, 0..1
    size = (spec.input.height, spec.input.width)
    picture = nn.functional.interpolate(digit[None, None], size=size, mode="bilinear", align_corners=False)
    return (picture.expand(1, spec.input.channels, *size) - 0.5) / 0.5


@torch.no_grad()
def part_output(model: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """What part `name` of the model gives for the single input x (1, C, H, W): "stem" (what the
    first stage gets), a block ("layer2.0") or any module in one ("layer2.0.bn1"): (C, H, W); "head":
    the class scores. Read with a hook, copied there (an in-place activation after a norm would
    change the norm's output later); the model is run in eval mode."""
    if x.shape[0] != 1:
        raise ValueError(f"one image at a time, got a batch of {x.shape[0]}")
    if name == "head":
        return model.eval()(x)[0].float()
    seen: list[torch.Tensor] = []
    if name == "stem":  # the stem's output is what the first stage (torchvision's layer1) gets
        hook = model.get_submodule("layer1").register_forward_pre_hook(lambda _m, args: seen.append(_kept(args[0])))
    else:
        hook = model.get_submodule(name).register_forward_hook(lambda _m, _args, out: seen.append(_kept(out)))
    try:
        model.eval()(x)
    finally:
        hook.remove()
    return seen[0]


def _kept(batch: torch.Tensor) -> torch.Tensor:
    return batch[0].detach().float().clone()


def layers_of(plan: NetworkPlan, name: str) -> list[LayerPlan]:
    """The layers of a stem or block whose outputs can be looked at (the head's: none)."""
    return [] if name == "head" else list(_part(plan, name).layers)
