"""The one-channel stem convolution as a matrix product computes exactly F.conv2d."""

import pytest
import torch
import torch.nn.functional as F

import explorer
from explorer.arch.stem_conv import SingleChannelConv2d, patch_conv2d


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "bias"),
    [((96, 96), 7, 2, 3, True), ((28, 28), 3, 1, 1, False), ((29, 35), 7, 2, 3, True), ((32, 20), 3, 2, 1, True)],
)
def test_patch_conv_equals_conv2d_forward_and_gradients(size, kernel, stride, padding, bias):
    torch.manual_seed(0)
    x = torch.randn(3, 1, *size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(8, 1, kernel, kernel, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, dtype=torch.float64, requires_grad=True) if bias else None
    ours = patch_conv2d(x, w, b, (stride, stride), (padding, padding))
    ref = F.conv2d(x, w, b, stride, padding)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    assert ours.permute(0, 2, 3, 1).is_contiguous()  # channels_last memory, as the next layer wants
    grad = torch.randn_like(ref)
    params = [x, w] + ([b] if bias else [])
    for g_ours, g_ref in zip(
        torch.autograd.grad(ours, params, grad), torch.autograd.grad(ref, params, grad), strict=True
    ):
        torch.testing.assert_close(g_ours, g_ref, rtol=1e-12, atol=1e-12)


def test_one_channel_models_use_it_with_unchanged_parameters():
    spec = explorer.preset("d2l-resnet18")  # 1x96x96, as d2l's chapter
    model = explorer.build_model(spec)
    assert type(model.conv1) is SingleChannelConv2d and isinstance(model.conv1, torch.nn.Conv2d)
    assert model.conv1.weight.shape == (64, 1, 7, 7) and "conv1.bias" in model.state_dict()
    rgb = explorer.build_model(explorer.preset("resnet18"))
    assert type(rgb.conv1) is torch.nn.Conv2d
