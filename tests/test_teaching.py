"""The Why-residuals measurements: the identity block, the experiments' definitions (gradient flow:
test_gradient_flow.py)."""

import dataclasses
import math

import pytest

import explorer
from explorer import SpecError, analyze, build_model
from explorer.inspect.teaching import (
    CPU_DEGRADATION,
    GPU_DEGRADATION,
    TWIN_DEMO_RECIPE,
    TWIN_DEMO_SPEC,
    block_walkthrough,
    bn_lr_verdict,
    bn_range_test_runs,
    cifar_spec,
    degradation_runs,
    degradation_setup,
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


def test_identity_block_is_exact_and_plain_block_loses_its_input():
    demo = identity_demo()
    assert demo.residual_max_error == 0.0
    assert demo.plain_output_norm == 0.0 and demo.plain_max_error > 0.5
    assert demo.input_norm > 1


def test_degradation_runs_share_one_recipe_the_deep_pair_first():
    """Two workers take the deep pair, then the shallow pair: the four finish about together."""
    for setup in (GPU_DEGRADATION, CPU_DEGRADATION):
        runs = degradation_runs(setup, "digits")
        assert [name for name, _, _ in runs] == ["resnet-56", "plain-56", "resnet-20", "plain-20"]
        assert len({recipe for _, _, recipe in runs}) == 1 and runs[0][2].dataset == "digits"
        assert [analyze(spec).depth for _, spec, _ in runs] == [56, 56, 20, 20]
    _, spec, recipe = degradation_runs(CPU_DEGRADATION)[0]
    assert spec.stem.width == 8 and (recipe.dataset, recipe.limit, recipe.epochs) == ("digits", None, 30)
    assert (recipe.schedule, recipe.augment, recipe.lr) == ("onecycle", False, 0.1)
    assert CPU_DEGRADATION.described == "Digits (offline), width 8, the whole training set, 30 epochs"


def test_each_dataset_gets_its_version_of_the_experiment():
    assert degradation_setup("digits", gpu=False) == CPU_DEGRADATION
    fashion = degradation_setup("fashion-mnist", gpu=False)
    assert (fashion.resize, fashion.limit, fashion.test_limit, fashion.epochs) == (16, 4000, 2000, 8)
    assert fashion.described == "Fashion-MNIST, width 8, 4,000 training images at 16 px, 8 epochs"
    assert degradation_setup("mnist", gpu=True) == dataclasses.replace(GPU_DEGRADATION, dataset="mnist")


def test_the_twin_demo_is_a_deep_narrow_resnet_on_a_small_recipe():
    assert analyze(TWIN_DEMO_SPEC).depth == 56 and TWIN_DEMO_SPEC.stem.width == 8 and TWIN_DEMO_SPEC.residual
    assert (TWIN_DEMO_RECIPE.limit, TWIN_DEMO_RECIPE.test_limit, TWIN_DEMO_RECIPE.resize) == (4000, 2000, 16)


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
