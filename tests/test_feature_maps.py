"""Inside a network: the stem's and stages' outputs for one image, and the first filters."""

import dataclasses

import numpy as np
import pytest
import torch

import explorer
from explorer.arch.plan import plan_network
from explorer.arch.spec import StemSpec
from explorer.inspect.feature_maps import StageMaps, first_filters, grad_cam, stage_maps, tile

DEEP_PREACT = dataclasses.replace(explorer.preset("resnet-mini"), stem=StemSpec(kind="deep", width=32), block="preact")


@pytest.mark.parametrize(
    "spec",
    [
        explorer.preset("d2l-resnet18"),
        explorer.preset("resnet50").with_input(3, 64, 64),
        explorer.preset("resnet20"),
        DEEP_PREACT,
    ],
    ids=["d2l-resnet18", "resnet50", "resnet20", "deep-stem-preact"],
)
def test_the_maps_have_the_shapes_the_plan_computes(spec):
    plan = plan_network(spec)
    model = explorer.build_model(spec, plan).eval()
    x = torch.randn(1, *plan.stem.in_shape)
    maps = stage_maps(model, plan, x)
    assert [m.name for m in maps] == ["stem"] + [s.name for s in plan.stages]
    assert [m.shape for m in maps] == [plan.stem.out_shape] + [s.out_shape for s in plan.stages]
    assert not model._forward_hooks and not model.get_submodule("layer1")._forward_pre_hooks  # hooks gone
    cam = grad_cam(model, plan, x, target=0)  # also through a bottleneck, or a pre-activation's final BN
    assert cam.shape == plan.stages[-1].out_shape[1:] and float(cam.min()) >= 0 and float(cam.max()) <= 1


def test_the_maps_are_the_tensors_the_forward_pass_computes():
    spec = explorer.preset("d2l-resnet18").with_input(1, 64, 64)
    plan = plan_network(spec)
    torch.manual_seed(0)
    model = explorer.build_model(spec, plan).eval()
    x = torch.randn(1, 1, 64, 64)
    maps = stage_maps(model, plan, x)
    with torch.no_grad():
        stem = model.maxpool(model.act1(model.bn1(model.conv1(x))))
        layer1 = model.layer1(stem)
        layer4 = model.layer4(model.layer3(model.layer2(layer1)))
        logits = model.fc(torch.flatten(model.avgpool(layer4), 1))
    torch.testing.assert_close(maps[0].maps, stem[0])
    torch.testing.assert_close(maps[1].maps, layer1[0])
    torch.testing.assert_close(maps[-1].maps, layer4[0])
    torch.testing.assert_close(model.fc(maps[-1].maps.mean(dim=(1, 2))), logits[0])


def test_grad_cam_is_the_class_activation_map_behind_average_pooling():
    """Behind global average pooling and one linear layer, Grad-CAM's channel weights are the
    classifier's row over H x W: the map is Zhou et al.'s (2016) CAM, relu(sum_k w_ck A_k)."""
    spec = explorer.preset("resnet-mini")
    plan = plan_network(spec)
    torch.manual_seed(1)
    model = explorer.build_model(spec, plan).eval()
    x = torch.randn(1, 1, 28, 28)
    last = stage_maps(model, plan, x)[-1].maps  # (64, 7, 7)
    for target in range(10):
        cam = grad_cam(model, plan, x, target)
        expected = torch.relu(torch.einsum("c,chw->hw", model.fc.weight[target].detach(), last))
        assert cam.shape == (7, 7)
        if expected.max() > 0:
            torch.testing.assert_close(cam, expected / expected.max())
        else:  # no positive evidence for this class anywhere (an untrained network)
            assert not cam.any()
    assert all(p.grad is None for p in model.parameters())  # nothing accumulated for a later step
    assert not model._forward_hooks and not model.layer3._forward_hooks


def test_one_image_at_a_time():
    spec = explorer.preset("resnet-mini")
    plan = plan_network(spec)
    model = explorer.build_model(spec, plan)
    with pytest.raises(ValueError, match="one image"):
        stage_maps(model, plan, torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="one image"):
        grad_cam(model, plan, torch.zeros(2, 1, 28, 28), 0)


def test_the_strongest_channels_come_first():
    maps = torch.zeros(4, 2, 2)
    maps[1] += 3.0
    maps[3] += 1.0
    maps[2, 0, 0] = 8.0  # mean 2
    assert StageMaps("layer1", maps).strongest(3) == [1, 2, 3]


def test_first_filters_are_the_stems_first_convolution():
    d2l = explorer.preset("d2l-resnet18")
    plan = plan_network(d2l)
    model = explorer.build_model(d2l, plan)
    assert first_filters(model, plan).shape == (64, 1, 7, 7)
    torch.testing.assert_close(first_filters(model, plan), model.conv1.weight.detach())
    deep = plan_network(DEEP_PREACT)
    assert first_filters(explorer.build_model(DEEP_PREACT, deep), deep).shape == (16, 1, 3, 3)


def test_tile_lays_maps_out_in_a_grid_each_on_its_own_scale():
    maps = torch.stack([torch.full((2, 3), float(k)) for k in range(5)])
    maps[:, 0, 0] = -1.0  # each map's minimum
    grid = tile(maps, columns=3, gap=1)
    assert grid.shape == (2 * 2 + 1, 3 * 3 + 2)
    assert np.isnan(grid[2]).all() and np.isnan(grid[:, 3]).all()  # the gaps
    assert grid[0, 0] == 0.0 and grid[1, 2] == 1.0  # map 0: -1 -> 0, 0 -> 1
    assert grid[3, 4] == 0.0 and grid[4, 6] == 1.0  # map 4, second row, second column
    assert np.isnan(grid[3:, 8:]).all()  # no sixth map
    flat = tile(torch.zeros(1, 2, 2), columns=1)
    assert (flat == 0).all()  # a constant map does not divide by zero


def test_tile_keeps_colour_filters_in_colour():
    grid = tile(torch.randn(6, 3, 7, 7), columns=4)
    assert grid.shape == (2 * 7 + 1, 4 * 7 + 3, 3)
    assert np.nanmin(grid) == 0.0 and np.nanmax(grid) == 1.0
    with pytest.raises(ValueError, match="maps must be"):
        tile(torch.zeros(7, 7), columns=1)
