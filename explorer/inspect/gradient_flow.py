"""What a plain and a residual network do to a signal at initialisation, layer by layer, and the
sentences that say so (computed from the same numbers the page plots).

Three measurements of one network:
- the forward signal: the RMS of what enters each layer. Without batch norm it is the init's doing:
  Xavier (d2l's train_ch6) halves its variance at every ReLU layer, so 55 layers shrink it about
  2^27-fold; Kaiming (He et al. 2015) keeps it; a residual sum adds a branch's variance per block.
- the gradient: ||dL/dW|| of each layer's weights, which is the signal entering the layer times the
  gradient leaving it. With batch norm a deep plain network's gradient grows towards the input
  (Yang et al. 2019, "A mean field theory of batch normalization"); a residual one's stays near its size.
- shattering: the correlation between the input gradients of neighbouring inputs (Balduzzi et al.
  2017, "The shattered gradients problem: if resnets are the answer, then what is the question?"):
  in a deep plain network they decorrelate with depth, towards white noise, whatever the init or
  batch norm, while a residual network's stay correlated. That, not the size, is what survives
  careful initialisation and batch norm, and what a lecture can show at any setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..arch.model import build_model, init_weights
from ..arch.spec import ResNetSpec

LINE_POINTS = 16  # inputs along a line through input space
LINE_STEP = 0.05  # the distance between neighbours, as a fraction of an input's norm
CALIBRATION_BATCH = 32  # random images whose statistics batch norm uses while the line is measured


@dataclass(frozen=True)
class FlowMeasure:
    """One network at initialisation. Layer i is the i-th main-path conv (1 = at the input)."""

    layers: tuple[str, ...]  # conv names in forward order (main path only)
    # RMS of the activation entering each layer; inside a block its second conv's input is the
    # branch's own (just normalised), so the residual stream is read at each block's first conv
    signal: tuple[float, ...]
    grad_norm: tuple[float, ...]  # ||dL/dW|| of each layer's weight
    correlation: float  # mean correlation of the input gradients of neighbouring inputs (1: smooth, 0: noise)

    @property
    def depth_index(self) -> tuple[int, ...]:
        return tuple(range(1, len(self.layers) + 1))

    @property
    def stream(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """(layer index, signal) where the signal enters each block, and the stem: what one block
        passes to the next, without the branches' insides between."""
        kept = [(i, s) for i, (name, s) in enumerate(zip(self.layers, self.signal, strict=True), 1)
                if name == "conv1" or name.endswith(".conv1")]  # fmt: skip
        return tuple(i for i, _ in kept), tuple(s for _, s in kept)

    @property
    def signal_ratio(self) -> float:
        """The signal entering the last block against the signal entering the first layer."""
        _, signal = self.stream
        return signal[-1] / signal[0] if signal[0] else math.inf

    @property
    def first_to_last_ratio(self) -> float:
        """How much larger the first layer's gradient is than the last layer's (the last non-zero:
        a zero-initialised branch passes no gradient to its own last conv)."""
        last = next((g for g in reversed(self.grad_norm) if g > 0), 0.0)
        return self.grad_norm[0] / last if last else math.inf


def _main_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and "downsample" not in n]


def _built(spec: ResNetSpec, init: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(spec)
    if init == "xavier":
        init_weights(model, "xavier")
    return model


def _sizes(model: nn.Module, spec: ResNetSpec, batch: int) -> tuple[list[str], list[float], list[float]]:
    """One forward and backward on a random batch with random labels, in training mode: each main
    conv's input RMS and weight-gradient norm."""
    convs = _main_convs(model)
    signal: list[float] = []
    hooks = [conv.register_forward_pre_hook(lambda _, args: signal.append(float(args[0].detach().pow(2).mean().sqrt())))
             for _, conv in convs]  # fmt: skip
    x = torch.randn(batch, spec.input.channels, spec.input.height, spec.input.width)
    y = torch.randint(0, spec.num_classes, (batch,))
    try:
        F.cross_entropy(model.train()(x), y).backward()
    finally:
        for hook in hooks:
            hook.remove()
    return [n for n, _ in convs], signal, [float(conv.weight.grad.norm()) for _, conv in convs]


def _calibrate(model: nn.Module, x: torch.Tensor) -> None:
    """Batch norm set to the exact statistics of `x` and then frozen (eval mode), so that each
    input's gradient is its own and not mixed with its neighbours' through the batch's statistics."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: after one batch, exactly its statistics
    with torch.no_grad():
        model.train()(x)
    model.eval()


def _line_correlation(model: nn.Module, spec: ResNetSpec, generator: torch.Generator) -> float:
    """Balduzzi et al.'s measure on images: the gradient of one output (a fixed random mix of the
    logits) with respect to the input, at inputs spaced evenly along a line; the mean Pearson
    correlation of each neighbouring pair's gradients."""
    shape = (spec.input.channels, spec.input.height, spec.input.width)
    _calibrate(model, torch.randn(CALIBRATION_BATCH, *shape, generator=generator))
    start, direction = torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)
    direction *= LINE_STEP * start.norm() / direction.norm()
    x = (start + torch.arange(LINE_POINTS).view(-1, 1, 1, 1) * direction).requires_grad_(True)
    mix = torch.randn(spec.num_classes, generator=generator)
    (model(x) @ mix).sum().backward()  # eval mode: each input's gradient depends on that input alone
    g = x.grad.flatten(1)
    g = g - g.mean(1, keepdim=True)
    g = g / g.norm(dim=1, keepdim=True).clamp_min(1e-30)
    return float((g[1:] * g[:-1]).sum(1).mean())


def measure_flow(spec: ResNetSpec, init: str = "torchvision", batch: int = 16, seed: int = 0) -> FlowMeasure:
    """The forward signal, the weight gradients and the gradients' correlation of `spec` at
    initialisation. init: "torchvision" (Kaiming, He et al. 2015) or "xavier" (d2l's train_ch6)."""
    model = _built(spec, init, seed)
    names, signal, grads = _sizes(model, spec, batch)
    model.zero_grad(set_to_none=True)
    correlation = _line_correlation(model, spec, torch.Generator().manual_seed(seed))
    return FlowMeasure(tuple(names), tuple(signal), tuple(grads), correlation)


# ----- the page's words, from the numbers -------------------------------------------------------------
KEEPS = 10.0  # within this factor of its first value, a size "keeps its size"
DECORRELATED = 0.1  # correlations that differ by less read as "about as"


def ratio_text(value: float) -> str:
    """A ratio as the page prints it: 0.12, 3.4, 5.1e+03, 2.0e-09."""
    return f"{value:.2g}" if 0.01 <= value < 1000 else f"{value:.1e}"


def _trend(ratio: float, shrinks: str, grows: str) -> str:
    if ratio < 1 / KEEPS:
        return shrinks
    if ratio > KEEPS:
        return grows
    return "keeps its size"


def flow_readout(plain: FlowMeasure, residual: FlowMeasure) -> list[str]:
    """Three sentences, forward, backward and shattering, each read off the numbers shown: which
    way each network's signal goes and how the two networks compare, in either direction."""
    p_sig, r_sig = plain.signal_ratio, residual.signal_ratio
    forward = (
        f"**Forward:** from the first layer to the last block, the signal is multiplied by {ratio_text(p_sig)} in the "
        f"plain network (it {_trend(p_sig, 'collapses', 'grows')}) and by {ratio_text(r_sig)} in the residual one "
        f"(it {_trend(r_sig, 'collapses', 'grows')})."
    )
    p_grad, r_grad = plain.first_to_last_ratio, residual.first_to_last_ratio
    at_first = residual.grad_norm[0] / plain.grad_norm[0] if plain.grad_norm[0] else math.inf
    first_said = (
        f"the residual network's is {ratio_text(at_first)} times the plain one's"
        if at_first >= 1
        else f"the plain network's is {ratio_text(1 / at_first)} times the residual one's"
    )
    backward = (
        f"**Backward:** the first layer's gradient is {ratio_text(p_grad)} times the last layer's in the plain "
        f"network (towards the input it {_trend(p_grad, 'fades', 'grows')}) and {ratio_text(r_grad)} times in the "
        f"residual one (it {_trend(r_grad, 'fades', 'grows')}); at the first layer {first_said}."
    )
    p_corr, r_corr = plain.correlation, residual.correlation
    if r_corr - p_corr >= DECORRELATED:
        verdict = "the plain network's gradient has lost more of its structure, it is shattered"
    elif p_corr - r_corr >= DECORRELATED:
        verdict = "here the residual network's gradient has lost more of its structure"
    else:
        verdict = "here the two are about as structured"
    shattering = (
        f"**Shattering:** the gradients at neighbouring inputs correlate at {p_corr:.2f} in the plain network and "
        f"{r_corr:.2f} in the residual one: {verdict} (Balduzzi et al. 2017)."
    )
    return [forward, backward, shattering]
