"""The exported source imports on its own and builds the same network as build_model."""

import dataclasses
import importlib.util

import pytest
import torch

from explorer import PRESETS, StageSpec, StemSpec, build_model, plan_network, to_code
from explorer.arch.presets import FAMILY
from explorer.arch.timm_family import materialise, randomise

VARIANTS = {
    **PRESETS,
    "preact-zero-init": dataclasses.replace(PRESETS["resnet-mini"], block="preact", zero_init_residual=True),
    "plain-no-bn": dataclasses.replace(PRESETS["resnet-mini"], residual=False, batch_norm=False),
    "deep-stem-D": dataclasses.replace(PRESETS["resnext50_32x4d"], stem=StemSpec("deep", 32), shortcut="D"),
    "mixed-shortcuts": dataclasses.replace(
        PRESETS["resnet-mini"],
        stages=(StageSpec(1, 16, 1), StageSpec(2, 32, 2, "A"), StageSpec(1, 64, 2, "D"), StageSpec(1, 64, 1, "C")),
        shortcut_bn=False,
        conv_bias=True,
    ),
    # every family option the presets leave out
    "senet154-small": dataclasses.replace(
        FAMILY["senet154"], stages=tuple(StageSpec(1, c, s) for c, s in ((64, 1), (128, 2), (256, 2), (512, 2)))
    ),  # fmt: skip
    "ecaresnext26t": FAMILY["ecaresnext26t_32x4d"],
    "resnetblur18": FAMILY["resnetblur18"],
    "resnetaa34d": FAMILY["resnetaa34d"],
    "dilated-D-drop-silu-frozen": dataclasses.replace(
        FAMILY["resnet26d"], output_stride=8, drop_path=0.2, dropout=0.3, activation="silu", norm="frozen"
    ),
    "v1-stride-on-1x1-zero-init": dataclasses.replace(PRESETS["resnet50"], stride_on="1x1", zero_init_residual=True),
    "preact-bottleneck-no-bn": dataclasses.replace(FAMILY["resnetv2_50t"], batch_norm=False),
    "resnetv2-zero-init-dilated": dataclasses.replace(
        FAMILY["resnetv2_18d"], zero_init_residual=True, output_stride=16
    ),
}


def load_generated(source: str, tmp_path, name: str):
    path = tmp_path / f"{name.replace('-', '_')}.py"
    path.write_text(source)
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(VARIANTS))
def test_generated_code_is_the_same_network(name, tmp_path):
    """Same parameters and buffers in the same order, so build_model's weights load into the
    exported `net` by position, and then the same outputs, stage by stage and at the end."""
    spec = VARIANTS[name]
    side = min(spec.input.height, 65)  # odd where the preset allows: ResNet-D's ceil-mode pooling
    spec = spec.with_input(spec.input.channels, side, side)
    plan = plan_network(spec)
    with torch.device("meta"):  # no initialisation: both get the same random weights below
        net = load_generated(to_code(spec, name), tmp_path, name).net
        ours = build_model(spec)
    net, ours = materialise(net).eval(), materialise(ours).eval()
    randomise(ours, seed=0)  # weights at their usual scale, BN statistics away from 0 and 1
    assert sum(p.numel() for p in net.parameters()) == plan.params
    theirs, mine = net.state_dict(), ours.state_dict()
    assert [tuple(v.shape) for v in theirs.values()] == [tuple(v.shape) for v in mine.values()]
    net.load_state_dict(dict(zip(theirs, mine.values(), strict=True)))
    x = torch.rand(2, spec.input.channels, side, side)
    with torch.no_grad():
        y = x
        for layer, part in zip(net, plan.parts, strict=False):  # b1 = stem, b2.. = stages
            y = layer(y)
            if part.name != "head":
                assert tuple(y.shape[1:]) == part.out_shape, part.name
        assert torch.equal(net(x), ours(x))
