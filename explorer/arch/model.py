"""build_model(spec): the real PyTorch network, assembled from the plan.

Each row of the plan becomes one module at the row's name (`layer_module`), so the plan is the one
table the builder, the analysis, the diagram and the code export read. Names follow torchvision
and timm (conv1, bn1, layer1.0.conv1, layer1.0.se.fc1, layer1.0.downsample.0, fc), so their
ResNets' state_dicts load into the matching spec with strict=True.
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F
from torch import nn

from .layers import BlockPlan, LayerPlan, NetworkPlan, StagePlan
from .plan import plan_network
from .spec import GROUP_NORM_GROUPS, ResNetSpec
from .stem_conv import SingleChannelConv2d


class ZeroPadShortcut(nn.Module):
    """Option A shortcut (He et al. 2016, Sec. 4.2): subsample, then pad the extra channels
    with zeros, so the shortcut has no parameters."""

    def __init__(self, extra_channels: int, stride: int) -> None:
        super().__init__()
        self.extra_channels = extra_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # (B, C + extra, H', W')


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): global average, a 1x1 bottleneck, a sigmoid gate per
    channel. Laid out as timm's SEModule (fc1, fc2 as 1x1 convs with bias) so its weights load."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


class EfficientChannelAttention(nn.Module):
    """ECA (Wang et al. 2020): one 1-D conv across the pooled channels, no reduction."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel, padding=(kernel - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean((2, 3)).unsqueeze(1))  # (B, 1, C)
        return x * torch.sigmoid(y).view(x.shape[0], -1, 1, 1)


class BlurPool(nn.Module):
    """Anti-aliased subsampling (Zhang 2019): the binomial [1, 2, 1] filter, squared and
    normalised, applied per channel with reflect padding, then the stride (timm's BlurPool2d)."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.register_buffer("filt", torch.empty(channels, 1, 3, 3), persistent=False)
        self.stride = stride
        self.init_non_persistent_buffers()

    def init_non_persistent_buffers(self) -> None:
        """Fill the filter (again after `to_empty`, as it is not in the state_dict)."""
        taps = torch.tensor([1.0, 2.0, 1.0], device=self.filt.device) / 4
        with torch.no_grad():
            self.filt.copy_((taps[:, None] * taps[None, :]).expand_as(self.filt))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, self.filt, stride=self.stride, groups=x.shape[1])


class SamePadAvgPool(nn.Module):
    """2x2 average at stride 1 that keeps the size: zero padding on the right and bottom (timm's
    AvgPool2dSame, in a ResNet-D shortcut whose stride became dilation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, skip the whole branch for a random
    subset of the batch and scale the rest up, so the expected output is unchanged."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(keep)
        return x * mask / keep


def _conv(layer: LayerPlan) -> nn.Conv2d:
    cin, cout = layer.in_shape[0], layer.out_shape[0]
    conv = SingleChannelConv2d if cin == 1 else nn.Conv2d  # the stem on MNIST-like images
    return conv(cin, cout, layer.kernel, layer.stride, layer.padding, layer.dilation, layer.groups, layer.bias)


def _norm(spec: ResNetSpec, channels: int) -> nn.Module:
    if spec.norm == "group":
        return nn.GroupNorm(GROUP_NORM_GROUPS, channels)
    if spec.norm == "frozen":
        # imported here: torchvision's import is 1.6 s of every process that builds a network (each
        # training worker, each CLI command), and only frozen norms need it
        from torchvision.ops import FrozenBatchNorm2d

        return FrozenBatchNorm2d(channels)
    return nn.BatchNorm2d(channels)


def _act(spec: ResNetSpec, inplace: bool = True) -> nn.Module:
    return nn.SiLU(inplace=inplace) if spec.activation == "silu" else nn.ReLU(inplace=inplace)


def layer_module(spec: ResNetSpec, layer: LayerPlan) -> nn.Module:
    """The module for one row of the plan: every layer kind is built here and only here."""
    kind, channels = layer.kind, layer.in_shape[0]
    if kind == "conv":
        return _conv(layer)
    if kind == "norm":
        return _norm(spec, channels)
    if kind == "act":
        return _act(spec)
    if kind == "maxpool":
        return nn.MaxPool2d(layer.kernel, layer.stride, layer.padding)
    if kind == "avgpool":
        return nn.AvgPool2d(layer.kernel, layer.stride, ceil_mode=layer.ceil, count_include_pad=False)
    if kind == "avgpool-same":
        return SamePadAvgPool()
    if kind == "blur":
        return BlurPool(channels, layer.stride)
    if kind == "se":
        return SqueezeExcite(channels, layer.groups)
    if kind == "eca":
        return EfficientChannelAttention(layer.kernel)
    if kind == "zero-pad":
        return ZeroPadShortcut(layer.out_shape[0] - channels, layer.stride)
    if kind == "global-avgpool":
        return nn.AdaptiveAvgPool2d((1, 1))
    if kind == "dropout":
        return nn.Dropout(spec.dropout)
    if kind == "fc":
        return nn.Linear(channels, layer.out_shape[0])
    raise ValueError(f"no module for layer kind {kind!r}")


def _install(root: nn.Module, path: str, module: nn.Module) -> None:
    """Register `module` at a dotted name ("downsample.1"), creating Sequential containers on the
    way, so the state_dict keys are torchvision's and timm's."""
    *parents, leaf = path.split(".")
    for part in parents:
        if not hasattr(root, part):
            root.add_module(part, nn.Sequential())
        root = getattr(root, part)
    root.add_module(leaf, module)


class Block(nn.Module):
    """One residual block, any kind: the branch's modules in the plan's order, the shortcut's, the
    addition, then what follows it. out = act(F(x) + shortcut(x)) (He et al. 2016, Fig. 2); a
    pre-activation block (He et al. 2016b) adds last, and its shortcut reads the pre-activated x."""

    def __init__(self, spec: ResNetSpec, plan: BlockPlan) -> None:
        super().__init__()
        self.residual = plan.shortcut != "none"
        self.preact_ends = -1  # index of the branch's first activation, whose output a v2 shortcut reads
        paths: dict[str, list[tuple[str, ...]]] = {"main": [], "shortcut": [], "out": []}
        for layer in plan.layers:
            module = layer_module(spec, layer)
            main = paths["main"]
            if plan.shortcut_from == "preact" and layer.kind == "act" and self.preact_ends < 0:
                module, self.preact_ends = _act(spec, inplace=False), len(main)  # x itself may be the shortcut
            name = layer.name[len(plan.name) + 1 :]
            _install(self, name, module)
            paths[layer.branch].append(tuple(name.split(".")))
        self.drop_path = DropPath(plan.drop_path) if plan.drop_path > 0 else None
        # module paths, looked up on each call, so a module swapped in later (as tests and
        # quantisation tools do) is the one that runs
        self._main, self._shortcut, self._out = (tuple(paths[b]) for b in ("main", "shortcut", "out"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, source = x, x
        for i, path in enumerate(self._main):
            y = _lookup(self, path)(y)
            if i == self.preact_ends:
                source = y
        if self.drop_path is not None:
            y = self.drop_path(y)
        if self.residual:
            s = source if self._shortcut else x
            for path in self._shortcut:
                s = _lookup(self, path)(s)
            y = y + s
        for path in self._out:
            y = _lookup(self, path)(y)
        return y

    def zero_init_last(self) -> None:
        """Start the branch at zero so the block begins as its shortcut (Goyal et al. 2017): the
        last norm's scale, or the last conv where the branch ends in one (pre-activation)."""
        modules = [_lookup(self, path) for path in self._main]
        last = next(m for m in reversed(modules) if _is_norm(m) or isinstance(m, nn.Conv2d))
        nn.init.zeros_(last.weight)


def _lookup(root: nn.Module, path: tuple[str, ...]) -> nn.Module:
    for part in path:
        root = getattr(root, part)
    return root


def _is_norm(module: nn.Module) -> bool:
    """A norm layer with a scale and a shift; a frozen one only where torchvision was imported,
    as it must have been to build one (see _norm)."""
    if isinstance(module, nn.BatchNorm2d | nn.GroupNorm):
        return True
    misc = sys.modules.get("torchvision.ops.misc")
    return misc is not None and isinstance(module, misc.FrozenBatchNorm2d)


class ResNet(nn.Module):
    """The network of a plan: stem, stages of blocks, head, each module at its plan name."""

    def __init__(self, spec: ResNetSpec, plan: NetworkPlan | None = None) -> None:
        super().__init__()
        plan = plan or plan_network(spec)
        self.spec = spec
        self._stem = self._install_part(spec, plan.stem)
        self.stage_names = [stage.name for stage in plan.stages]
        for stage in plan.stages:
            self.add_module(stage.name, nn.Sequential(*(Block(spec, b) for b in stage.blocks)))
        self._head = self._install_part(spec, plan.head)
        init_weights(self, "torchvision")

    def _install_part(self, spec: ResNetSpec, part: StagePlan) -> tuple[tuple[str, ...], ...]:
        for layer in part.layers:
            _install(self, layer.name, layer_module(spec, layer))
        return tuple(tuple(layer.name.split(".")) for layer in part.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for path in self._stem:
            x = _lookup(self, path)(x)  # (B, stem width, H/4, W/4) for the imagenet stem
        for name in self.stage_names:
            x = getattr(self, name)(x)
        for path in self._head:
            if path == ("fc",):
                x = torch.flatten(x, 1)  # (B, C)
            x = _lookup(self, path)(x)
        return x  # (B, num_classes)


def _default_init(m: nn.Conv2d | nn.Linear, generator: torch.Generator | None) -> None:
    """PyTorch's own reset_parameters for convs and linear layers, drawn from `generator`."""
    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
    if m.bias is not None:
        fan_in = m.weight[0].numel()
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(m.bias, -bound, bound, generator=generator)


def init_weights(model: nn.Module, scheme: str = "torchvision", generator: torch.Generator | None = None) -> None:
    """torchvision: Kaiming-normal (fan_out) convs, BN at 1/0, PyTorch's default for the fc.
    xavier: what d2l's train_ch6 applies to every conv and linear layer before training.
    Every random draw comes from `generator` when one is given, so a run's seed alone decides its
    weights, whatever other threads draw from the global generator meanwhile."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            _default_init(m, generator)  # biases, and the fc's weight under torchvision's scheme
            if scheme == "xavier":
                nn.init.xavier_uniform_(m.weight, generator=generator)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
        elif _is_norm(m):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    spec = getattr(model, "spec", None)
    if spec is not None and spec.zero_init_residual and spec.residual:
        # Zero the last layer of each residual branch so every block starts as the identity
        # (Goyal et al. 2017, arXiv 1706.02677).
        for m in model.modules():
            if isinstance(m, Block):
                m.zero_init_last()


def build_model(spec: ResNetSpec, plan: NetworkPlan | None = None) -> ResNet:
    """The network `spec` describes, initialised as torchvision initialises its ResNets."""
    return ResNet(spec, plan)
