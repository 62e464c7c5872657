"""The Why-residuals measurements: gradient flow, the identity block, the experiments' definitions."""

import dataclasses
import math

import pytest

import explorer
from explorer import SpecError, analyze, build_model
from explorer.inspect.teaching import (
    block_walkthrough,
    bn_lr_verdict,
    bn_range_test_runs,
    cifar_spec,
    degradation_runs,
    gradient_flow,
    identity_demo,
    lr_sweep_runs,
    random_quiz_spec,
)


def test_cifar_specs_are_he_et_al_networks():
    assert cifar_spec(20) == explorer.preset("resnet20")
    assert cifar_spec(110) == explorer.preset("resnet110")
    plain = cifar_spec(56, residual=False)
    assert analyze(plain).depth == 56 and {b.shortcut for b in explorer.plan_network(plain).blocks} == {"none"}
    with pytest.raises(SpecError, match="depth: 21 is not 6n\\+2; try 20 or 26"):
        cifar_spec(21)


def test_residual_gradients_reach_the_first_layer_at_depth_56():
    """d2l's setting (Xavier init as d2l, no batch norm): the plain network's gradient has all
    but vanished at its first layer; the residual network's has not."""
    plain = gradient_flow(cifar_spec(56, 16, residual=False, batch_norm=False), init="xavier")
    residual = gradient_flow(cifar_spec(56, 16, residual=True, batch_norm=False), init="xavier")
    assert len(plain.grad_norm) == len(residual.grad_norm) == 55  # 55 convs + the fc = 56
    assert residual.grad_norm[0] > 1e6 * plain.grad_norm[0]
    assert plain.first_to_last_ratio < 0.5  # it shrinks on the way down
    assert plain.layers[0] == "conv1" and plain.layers[-1] == "layer3.8.conv2"


def test_with_batch_norm_the_plain_network_explodes_instead():
    """With BN the deep plain network's gradient grows towards the input (Yang et al. 2019, "A mean
    field theory of batch normalization"); the residual one stays within two orders of magnitude."""
    plain = gradient_flow(cifar_spec(56, 16, residual=False))
    residual = gradient_flow(cifar_spec(56, 16, residual=True))
    assert plain.first_to_last_ratio > 1000
    assert residual.first_to_last_ratio < 100


def test_zero_init_gradient_flow_ignores_silent_last_layers():
    flow = gradient_flow(cifar_spec(20, 8, zero_init_residual=True))
    assert flow.grad_norm[-1] == 0.0 and 0 < flow.first_to_last_ratio < float("inf")


def test_identity_block_is_exact_and_plain_block_loses_its_input():
    demo = identity_demo()
    assert demo.residual_max_error == 0.0
    assert demo.plain_output_norm == 0.0 and demo.plain_max_error > 0.5
    assert demo.input_norm > 1


def test_degradation_runs_share_one_recipe():
    for gpu in (True, False):
        runs = degradation_runs(gpu, "digits")
        assert [name for name, _, _ in runs] == ["plain-20", "plain-56", "resnet-20", "resnet-56"]
        assert len({recipe for _, _, recipe in runs}) == 1
        assert [analyze(spec).depth for _, spec, _ in runs] == [20, 56, 20, 56]
    cpu = degradation_runs(False, "digits")[0]
    assert cpu[1].stem.width == 8 and cpu[2].limit == 4000  # the reduced version


def test_lr_sweep_pairs_bn_and_no_bn():
    runs = lr_sweep_runs(cifar_spec(20, 8), (0.1, 1.0), "digits")
    assert [(name, spec.batch_norm, recipe.lr) for name, spec, recipe in runs] == [
        ("BN lr=0.1", True, 0.1),
        ("BN lr=1", True, 1.0),
        ("no BN lr=0.1", False, 0.1),
        ("no BN lr=1", False, 1.0),
    ]


def test_bn_range_tests_pair_the_network_with_and_without_bn():
    runs = bn_range_test_runs(cifar_spec(20, 8), "digits")
    assert [(name, spec.batch_norm, recipe.schedule) for name, spec, recipe in runs] == [
        ("BN: lr range test", True, "range-test"),
        ("no BN: lr range test", False, "range-test"),
    ]
    assert runs[0][2] == runs[1][2] and runs[0][1] == dataclasses.replace(runs[1][1], batch_norm=True)


def test_block_walkthrough_matches_the_seed_block():
    """Residual(64, 128, use_1x1conv=True, strides=2) at 24 px, as in d2l-resnet18's layer2.0."""
    steps = block_walkthrough(64, 128, 2, 24)
    assert [s.shape for s in steps][0] == (64, 24, 24)
    assert steps[1].shape == (128, 12, 12) and steps[1].params == 3 * 3 * 64 * 128 + 128
    assert steps[-1].label == "ReLU" and steps[-2].label == "F(x) + x"
    seed_block = explorer.plan_network(explorer.preset("d2l-resnet18")).blocks[2]
    assert sum(s.params for s in steps) == seed_block.params
    same = block_walkthrough(64, 64, 1, 24)
    assert any(s.label.startswith("shortcut: identity") for s in same)


def test_quiz_networks_are_valid_and_reproducible():
    assert random_quiz_spec(7) == random_quiz_spec(7)
    specs = {random_quiz_spec(seed) for seed in range(30)}
    assert len(specs) > 10
    for spec in specs:
        assert analyze(spec).total_params == sum(p.numel() for p in build_model(spec).parameters())


@pytest.mark.parametrize(
    "bn, plain, said",
    [
        (0.46, 0.81, "**Here, no:** without batch norm it went further (0.81 against 0.46)"),  # the digits' range tests
        (3.0, 0.3, "**Here, yes:** with batch norm it trained at learning rates up to 3, without it up to 0.3."),
        (math.inf, 0.81, "**Here, yes:** with batch norm it trained at learning rates up to the end of the range"),
        (1.0, None, "**Here, yes:** with batch norm it trained at learning rates up to 1, without it up to none."),
        (0.3, 0.3, "**Here, no difference:** both trained at learning rates up to 0.3."),
        (None, None, "**Here, neither** trained"),
    ],
)
def test_the_bn_verdict_is_read_off_the_runs(bn, plain, said):
    assert bn_lr_verdict(bn, plain).startswith(said)
