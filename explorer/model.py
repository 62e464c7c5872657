"""build_model(spec): the real PyTorch network, assembled from the plan.

Module names follow torchvision (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, fc), so a
torchvision ResNet's state_dict loads into the matching preset with strict=True.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .plan import BlockPlan, NetworkPlan, plan_network
from .spec import ResNetSpec
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


def _conv(spec: ResNetSpec, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    conv = SingleChannelConv2d if cin == 1 else nn.Conv2d  # the stem on MNIST-like images
    return conv(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=spec.conv_bias)


def _norm(spec: ResNetSpec, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if spec.batch_norm else nn.Identity()


def _shortcut(spec: ResNetSpec, plan: BlockPlan) -> nn.Module | None:
    cin, cout = plan.in_shape[0], plan.out_shape[0]
    if plan.shortcut == "zero-pad":
        return ZeroPadShortcut(cout - cin, plan.stride)
    if plan.shortcut == "projection":
        layers = [_conv(spec, cin, cout, 1, plan.stride)]
    elif plan.shortcut == "avgpool-projection":
        pool = (
            nn.AvgPool2d(plan.stride, plan.stride, ceil_mode=True, count_include_pad=False)
            if plan.stride > 1
            else nn.Identity()
        )
        layers = [pool, _conv(spec, cin, cout, 1)]
    else:  # identity or none
        return None
    if spec.shortcut_bn and spec.batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convs: out = relu(F(x) + x) (He et al. 2016, Fig. 2)."""

    def __init__(self, spec: ResNetSpec, plan: BlockPlan) -> None:
        super().__init__()
        cin, cout = plan.in_shape[0], plan.out_shape[0]
        self.conv1 = _conv(spec, cin, cout, 3, plan.stride)
        self.bn1 = _norm(spec, cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv(spec, cout, cout, 3)
        self.bn2 = _norm(spec, cout)
        self.downsample = _shortcut(spec, plan)
        self.residual = plan.shortcut != "none"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand x4; the stride sits on the 3x3 as in
    torchvision ("ResNet V1.5")."""

    def __init__(self, spec: ResNetSpec, plan: BlockPlan) -> None:
        super().__init__()
        cin, cout, width = plan.in_shape[0], plan.out_shape[0], plan.width
        self.conv1 = _conv(spec, cin, width, 1)
        self.bn1 = _norm(spec, width)
        self.conv2 = _conv(spec, width, width, 3, plan.stride, plan.groups)
        self.bn2 = _norm(spec, width)
        self.conv3 = _conv(spec, width, cout, 1)
        self.bn3 = _norm(spec, cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(spec, plan)
        self.residual = plan.shortcut != "none"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice, then add (He et al. 2016, "Identity Mappings in Deep Residual
    Networks"): nothing follows the addition, so x passes through the network untouched."""

    def __init__(self, spec: ResNetSpec, plan: BlockPlan) -> None:
        super().__init__()
        cin, cout = plan.in_shape[0], plan.out_shape[0]
        self.bn1 = _norm(spec, cin)
        self.conv1 = _conv(spec, cin, cout, 3, plan.stride)
        self.bn2 = _norm(spec, cout)
        self.conv2 = _conv(spec, cout, cout, 3)
        self.relu = nn.ReLU()
        self.downsample = _shortcut(spec, plan)
        self.residual = plan.shortcut != "none"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        if self.residual:
            # a projection sees the pre-activated input, the identity the raw one (as the authors' code)
            out = out + (x if self.downsample is None else self.downsample(pre))
        return out


BLOCK_CLASSES: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck, "preact": PreActBlock}


def _stem_conv(spec: ResNetSpec) -> nn.Module:
    cin, width = spec.input.channels, spec.stem.width
    if spec.stem.kind == "imagenet":
        return _conv(spec, cin, width, 7, 2)
    if spec.stem.kind == "cifar":
        return _conv(spec, cin, width, 3, 1)
    half = width // 2  # deep stem (ResNet-C), laid out as timm's so names match (conv1.0 .. conv1.6)
    return nn.Sequential(
        _conv(spec, cin, half, 3, 2),
        _norm(spec, half),
        nn.ReLU(inplace=True),
        _conv(spec, half, half, 3),
        _norm(spec, half),
        nn.ReLU(inplace=True),
        _conv(spec, half, width, 3),
    )


class ResNet(nn.Module):
    def __init__(self, spec: ResNetSpec, plan: NetworkPlan | None = None) -> None:
        super().__init__()
        plan = plan or plan_network(spec)
        self.spec = spec
        self.conv1 = _stem_conv(spec)
        self.bn1 = _norm(spec, spec.stem.width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if spec.stem.kind != "cifar" else nn.Identity()
        block = BLOCK_CLASSES[spec.block]
        self.stage_names = [stage.name for stage in plan.stages]
        for stage in plan.stages:
            self.add_module(stage.name, nn.Sequential(*(block(spec, b) for b in stage.blocks)))
        features = plan.head.in_shape[0]
        if spec.block == "preact":
            self.bn_final = _norm(spec, features)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(features, spec.num_classes)
        init_weights(self, "torchvision")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, stem width, H/4, W/4) for imagenet
        for name in self.stage_names:
            x = getattr(self, name)(x)
        if self.spec.block == "preact":
            x = self.relu(self.bn_final(x))
        x = torch.flatten(self.avgpool(x), 1)  # (B, C)
        return self.fc(x)  # (B, num_classes)


def _last_layer_of_branch(block: nn.Module) -> nn.Module:
    if isinstance(block, Bottleneck):
        last_bn, last_conv = block.bn3, block.conv3
    elif isinstance(block, BasicBlock):
        last_bn, last_conv = block.bn2, block.conv2
    else:  # a pre-activation branch ends in its conv
        last_bn, last_conv = nn.Identity(), block.conv2
    return last_bn if isinstance(last_bn, nn.BatchNorm2d) else last_conv


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
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    spec = getattr(model, "spec", None)
    if spec is not None and spec.zero_init_residual and spec.residual:
        # Zero the last layer of each residual branch so every block starts as the identity
        # (Goyal et al. 2017, arXiv 1706.02677).
        for m in model.modules():
            if isinstance(m, tuple(BLOCK_CLASSES.values())):
                nn.init.zeros_(_last_layer_of_branch(m).weight)


def build_model(spec: ResNetSpec, plan: NetworkPlan | None = None) -> ResNet:
    """The network `spec` describes, initialised as torchvision initialises its ResNets."""
    return ResNet(spec, plan)
