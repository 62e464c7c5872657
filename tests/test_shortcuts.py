"""Shortcut choice and the shape-mismatch explanation (d2l's `use_1x1conv` point)."""

import dataclasses

import pytest
import torch

import explorer
from explorer import ShapeMismatchError, SpecError, StageSpec, build_model, plan_network


def mini(**changes):
    return dataclasses.replace(explorer.preset("resnet-mini"), **changes)


def test_identity_shortcut_cannot_add_across_a_shape_change():
    spec = mini(shortcut="identity")
    with pytest.raises(ShapeMismatchError) as info:
        plan_network(spec)
    err = info.value
    assert err.field == "shortcut"
    assert err.block == "layer2.0" and err.stage == 1
    assert err.x_shape == (16, 28, 28) and err.fx_shape == (32, 14, 14)
    assert "x is 16x28x28 but F(x) is 32x14x14" in str(err)
    assert "1x1 projection shortcut (B)" in str(err) and "use_1x1conv=True" in str(err)
    assert isinstance(err, SpecError)
    with pytest.raises(ShapeMismatchError):
        build_model(spec)
    with pytest.raises(ShapeMismatchError):
        explorer.to_code(spec)


def test_per_stage_override_names_the_stage_field():
    spec = mini(stages=(StageSpec(1, 16, 1), StageSpec(1, 32, 2, "identity"), StageSpec(1, 64, 2)))
    with pytest.raises(ShapeMismatchError, match=r"^stages\[1\]\.shortcut: in block layer2\.0"):
        plan_network(spec)


def test_zero_padding_cannot_remove_channels():
    spec = mini(shortcut="A", stages=(StageSpec(1, 16, 1), StageSpec(1, 8, 2)))
    with pytest.raises(ShapeMismatchError, match="zero-padding can add channels but not remove them"):
        plan_network(spec)


def test_identity_is_fine_where_shapes_never_change():
    spec = mini(shortcut="identity", stages=(StageSpec(3, 16, 1),))
    assert {b.shortcut for b in plan_network(spec).blocks} == {"identity"}


def test_plain_network_has_no_shortcuts_and_fewer_params():
    residual, plain = plan_network(mini()), plan_network(mini(residual=False))
    assert {b.shortcut for b in plain.blocks} == {"none"}
    projections = sum(layer.params for layer in residual.layers if layer.branch == "shortcut")
    assert residual.params - plain.params == projections == 2752  # the two 1x1 projections and their BN


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("A", ["identity", "zero-pad", "zero-pad"]),
        ("B", ["identity", "projection", "projection"]),
        ("C", ["projection", "projection", "projection"]),
        ("D", ["identity", "avgpool-projection", "avgpool-projection"]),
    ],
)
def test_shortcut_kinds(kind, expected):
    plan = plan_network(mini(shortcut=kind))
    assert [b.shortcut for b in plan.blocks] == expected
    if kind == "A":
        assert sum(layer.params for layer in plan.layers if layer.branch == "shortcut") == 0


def test_zero_pad_shortcut_pads_with_zeros():
    model = build_model(mini(shortcut="A")).eval()
    pad = model.layer2[0].downsample
    x = torch.rand(1, 16, 28, 28)
    y = pad(x)
    assert y.shape == (1, 32, 14, 14)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2]) and not y[:, 16:].any()


@pytest.mark.parametrize("block", ["basic", "bottleneck", "preact"])
def test_zero_init_residual_makes_blocks_identity(block):
    """With the last BN (or conv) of each branch at zero, an identity block computes relu(x) = x
    for non-negative x (pre-activation blocks: exactly x)."""
    spec = mini(block=block, zero_init_residual=True, stages=(StageSpec(2, 16 if block != "bottleneck" else 4, 1),))
    model = build_model(spec).eval()
    x = torch.rand(2, 16, 8, 8)  # non-negative, like the output of a ReLU
    with torch.no_grad():
        assert torch.equal(model.layer1(x), x)
