"""The family's options that timm's defaults do not exercise: where the stride sits, zero-init of
the last norm, stochastic depth, dropout, output stride against timm, and bad combinations."""

import dataclasses
import math

import pytest
import timm
import torch

import explorer
from explorer import build_model, load_state_dict, plan_network
from explorer.arch.model import DropPath
from explorer.arch.presets import FAMILY
from explorer.arch.spec import SpecError, spec_from_json


def _with(name: str, **options):
    return dataclasses.replace(explorer.preset(name), **options)


def test_stride_on_the_first_1x1_is_he_et_als_resnet50():
    """He et al. 2016 put the stride on the first 1x1: 3.8 GMACs at 224 px (Table 1), against
    torchvision's 4.1 with the stride on the 3x3 ("v1.5"); the parameters are the same."""
    v1 = plan_network(_with("resnet50", stride_on="1x1"))
    assert (v1.macs, v1.params) == (3_857_973_248, 25_557_032)
    layers = {layer.name: layer for layer in v1.layers}
    assert layers["layer2.0.conv1"].stride == 2 and layers["layer2.0.conv2"].stride == 1


def test_zero_init_of_the_last_norm_starts_deep_networks_at_chance():
    """ResNet-110 at initialisation: without zero-init each of the 54 blocks adds a unit-variance
    branch, the features grow 5.6x and the first loss is 5.96 against ln 10 = 2.30; with the last
    BN of every branch at zero the network starts as its shortcuts, the first loss is ln 10, and
    the zeroed scales still get a gradient, so training moves them (Goyal et al. 2017)."""
    measured = {}
    for zero in (False, True):
        torch.manual_seed(0)
        model = build_model(_with("resnet110", zero_init_residual=zero)).train()
        x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
        with torch.no_grad():
            stem = model.act1(model.bn1(model.conv1(x)))  # the CIFAR stem has no pool
            growth = (model.layer3(model.layer2(model.layer1(stem))).std() / stem.std()).item()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        measured[zero] = (growth, loss.item(), model.layer3[-1].bn2)
    growth, loss, _ = measured[False]
    assert growth > 4 and loss > 4
    growth, loss, last_bn = measured[True]
    assert growth < 1 and abs(loss - math.log(10)) < 0.05
    assert torch.count_nonzero(last_bn.weight) == 0 and last_bn.weight.grad.abs().max() > 0


def test_zero_init_zeroes_the_last_conv_of_a_pre_activation_branch():
    model = build_model(FAMILY["resnetv2_50"].with_input(3, 32, 32).__class__(
        **{**FAMILY["resnetv2_50"].with_input(3, 32, 32).__dict__, "zero_init_residual": True}))  # fmt: skip
    assert all(torch.count_nonzero(block.conv3.weight) == 0 for block in model.layer1)
    assert torch.count_nonzero(model.layer1[0].bn3.weight) == 64  # the norm before conv3 keeps its scale


def test_drop_path_rates_rise_linearly_as_timms():
    spec = _with("resnet50", drop_path=0.1)
    ours = [block.drop_path for block in plan_network(spec).blocks]
    with torch.device("meta"):
        reference = timm.create_model("resnet50", drop_path_rate=0.1)
    blocks = [block for stage in range(1, 5) for block in reference.get_submodule(f"layer{stage}")]
    theirs = [0.0 if block.drop_path is None else block.drop_path.drop_prob for block in blocks]
    assert ours == pytest.approx(theirs) and ours[0] == 0 and ours[-1] == pytest.approx(0.1)


def test_drop_path_skips_whole_branches_in_training_only():
    drop = DropPath(0.5)
    x = torch.ones(4000, 3, 2, 2)
    kept = drop.train()(x)[:, 0, 0, 0]
    assert set(kept.unique().tolist()) == {0.0, 2.0} and abs(kept.mean().item() - 1) < 0.05  # scaled to keep E[x]
    assert torch.equal(drop.eval()(x), x)


def test_dropout_sits_before_the_classifier_and_only_trains():
    spec = _with("resnet-mini", dropout=0.5)
    assert [layer.kind for layer in plan_network(spec).head.layers] == ["global-avgpool", "dropout", "fc"]
    model = build_model(spec)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), model(x))
        assert not torch.equal(model.train()(x), model.train()(x))


@pytest.mark.parametrize("output_stride", [16, 8])
def test_output_stride_matches_timms(output_stride):
    reference = timm.create_model("seresnext26d_32x4d", output_stride=output_stride).eval()
    spec = dataclasses.replace(FAMILY["seresnext26d_32x4d"].with_input(3, 65, 65), output_stride=output_stride)
    ours = load_state_dict(build_model(spec).eval(), reference.state_dict())
    x = torch.randn(1, 3, 65, 65)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
    assert plan_network(spec).stages[-1].reduction == output_stride


@pytest.mark.parametrize(
    "options, field",
    [
        ({"block": "preact", "anti_alias": "blur"}, "anti_alias"),
        ({"block": "basic", "stride_on": "1x1"}, "stride_on"),
        ({"attention": "cbam"}, "attention"),
        ({"drop_path": 1.5}, "drop_path"),
        ({"shortcut_kernel": 2}, "shortcut_kernel"),
        ({"stem": {"kind": "tiered", "width": 4}}, "stem.width"),
        ({"stem": {"kind": "deep", "width": 64, "pool": "avg"}}, "stem.pool"),
    ],
)
def test_bad_combinations_name_their_field(options, field):
    with pytest.raises(SpecError) as err:
        explorer.spec_from_dict({**explorer.preset("resnet18").to_dict(), **options})
    assert err.value.field == field


def test_group_norm_needs_channels_in_32_groups():
    spec = _with("resnet20", norm="group")
    with pytest.raises(SpecError, match="32 groups, but bn1 has 16 channels") as err:
        plan_network(spec)
    assert err.value.field == "norm"


@pytest.mark.parametrize("name", ["resnetrs50", "resnetv2_50", "resnetaa50d", "resnet50_gn", "ecaresnet50d"])
def test_json_round_trip_keeps_the_options(name):
    spec = FAMILY[name]
    assert spec_from_json(spec.to_json()) == spec
    assert "output_stride" not in spec.to_dict()  # options at their defaults stay out of the JSON
