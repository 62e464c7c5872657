"""A convolution over one-channel images (the MNIST family) computed on GPUs as a matrix product.

cuDNN pads a one-channel input to eight channels, converts its layout and runs an Ampere-era
kernel: for d2l-resnet18's 7x7 stride-2 stem on Fashion-MNIST at 96 px and batch 256, forward
plus weight gradient take 1.15 ms on an H200, a fifth of the whole training step, while the two
matrix products the same convolution amounts to take 0.17 ms (benchmarks/stem_speed.py). So on
GPUs the 7x7 patches are gathered (one strided copy) and multiplied by the (out, 49) weight matrix.
Same parameters, same function; CPUs keep oneDNN's convolution, which is fast there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def patch_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    """F.conv2d(x, weight, bias, stride, padding) for x of shape (N, 1, H, W), as im2col + matmul.
    The result has channels_last strides (its memory is (N, H', W', C)), as the next layers want."""
    n, _, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    (sh, sw), (ph, pw) = stride, padding
    x = F.pad(x, (pw, pw, ph, ph)).reshape(n, height + 2 * ph, width + 2 * pw)
    patches = x.unfold(1, kh, sh).unfold(2, kw, sw)  # (N, H', W', kh, kw), a view
    oh, ow = patches.shape[1:3]
    patches = patches.reshape(n * oh * ow, kh * kw)  # the one copy
    w = weight.reshape(out_channels, kh * kw).t()
    out = patches @ w if bias is None else torch.addmm(bias, patches, w)  # (N*H'*W', C)
    return out.view(n, oh, ow, out_channels).permute(0, 3, 1, 2)


class SingleChannelConv2d(nn.Conv2d):
    """nn.Conv2d with one input channel (same parameters and state_dict) that runs patch_conv2d
    on GPUs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda and self.padding_mode == "zeros" and self.dilation == (1, 1) and self.groups == 1:
            return patch_conv2d(x, self.weight, self.bias, self.stride, self.padding)
        return super().forward(x)
