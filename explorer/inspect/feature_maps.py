"""Inside a network, for one image: the tensor after the stem and after each stage (the shapes the
Design page lists, here as pictures), and the first convolution's filters.

Looking at what the channels respond to, stage by stage, is how Zeiler and Fergus (2014,
"Visualizing and Understanding Convolutional Networks") read a trained network: early maps keep the
image's outline at full resolution, later ones are coarse and specific."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..arch.layers import NetworkPlan


@dataclass(frozen=True)
class StageMaps:
    """One image's activations at the end of a stage (or of the stem): (channels, height, width)."""

    name: str
    maps: torch.Tensor

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.maps.shape)  # type: ignore[return-value]

    def strongest(self, count: int) -> list[int]:
        """The `count` channels with the largest mean activation, strongest first: with a hundred or
        more channels, these are the ones this image drives."""
        means = self.maps.mean(dim=(1, 2))
        return means.argsort(descending=True)[:count].tolist()


@torch.no_grad()
def stage_maps(model: nn.Module, plan: NetworkPlan, x: torch.Tensor) -> list[StageMaps]:
    """The stem's output and each stage's, for the single image x (1, C, H, W) already prepared
    as the network's input. Read with hooks on the stage modules (named as the plan's stages): the
    stem's output is what the first stage gets."""
    if x.shape[0] != 1:
        raise ValueError(f"one image at a time, got a batch of {x.shape[0]}")
    seen: list[StageMaps] = []
    first = model.get_submodule(plan.stages[0].name)
    hooks = [first.register_forward_pre_hook(lambda _m, args: seen.append(StageMaps("stem", _kept(args[0]))))]
    for stage in plan.stages:
        hooks.append(
            model.get_submodule(stage.name).register_forward_hook(
                lambda _m, _args, out, name=stage.name: seen.append(StageMaps(name, _kept(out)))
            )
        )
    try:
        model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def _kept(batch: torch.Tensor) -> torch.Tensor:
    """The one image of a batch, copied: a later in-place operation must not change what was seen."""
    return batch[0].detach().float().clone()


def grad_cam(model: nn.Module, plan: NetworkPlan, x: torch.Tensor, target: int) -> torch.Tensor:
    """Where in the image the network found its evidence for class `target`: Grad-CAM (Selvaraju
    et al. 2017) over the last stage, a map at that stage's resolution (H, W), scaled to 0..1.

    Each channel of the last stage counts by the mean gradient of the class's score over it, and
    only positive evidence is kept (ReLU). Behind global average pooling and one linear layer,
    these weights are the classifier's row divided by H x W, so the map is Zhou et al.'s (2016)
    class activation map, which the tests check."""
    if x.shape[0] != 1:
        raise ValueError(f"one image at a time, got a batch of {x.shape[0]}")
    kept: list[torch.Tensor] = []
    hook = model.get_submodule(plan.stages[-1].name).register_forward_hook(lambda _m, _a, out: kept.append(out))
    try:
        with torch.enable_grad():
            score = model(x.detach())[0, target]
            (gradients,) = torch.autograd.grad(score, kept[0])
    finally:
        hook.remove()
    weights = gradients[0].mean(dim=(1, 2))
    cam = torch.relu(torch.einsum("c,chw->hw", weights, kept[0][0].detach())).float()
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def first_filters(model: nn.Module, plan: NetworkPlan) -> torch.Tensor:
    """The weights of the stem's first convolution, (filters, input channels, k, k): on images,
    the first layer learns edge and blob detectors that can be seen directly."""
    return model.get_submodule(plan.stem.layers[0].name).weight.detach().float().cpu()


def tile(maps: torch.Tensor, columns: int, gap: int = 1) -> np.ndarray:
    """Maps (N, H, W) as one grid of `columns` columns, each map scaled to 0..1 over its own range
    (a map's pattern matters here, not its size against the others), with `gap` pixels of NaN
    between them for the background. Colour maps (N, 3, H, W), such as an RGB network's filters,
    give (rows x H, columns x W, 3)."""
    if maps.ndim not in (3, 4):
        raise ValueError(f"maps must be (N, H, W) or (N, 3, H, W), got shape {tuple(maps.shape)}")
    count, height, width = maps.shape[0], maps.shape[-2], maps.shape[-1]
    flat = maps.reshape(count, -1).float()
    low, high = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    scaled = ((flat - low) / (high - low).clamp_min(1e-12)).reshape(maps.shape).numpy()
    rows = -(-count // columns)
    colour = maps.ndim == 4
    grid = np.full(
        (rows * (height + gap) - gap, columns * (width + gap) - gap) + ((maps.shape[1],) if colour else ()),
        np.nan,
        dtype=np.float32,
    )
    for i in range(count):
        top, left = (i // columns) * (height + gap), (i % columns) * (width + gap)
        grid[top : top + height, left : left + width] = np.moveaxis(scaled[i], 0, -1) if colour else scaled[i]
    return grid
