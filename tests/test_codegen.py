"""The exported source imports on its own and builds the same network as build_model."""

import dataclasses
import importlib.util
import subprocess
import sys

import pytest
import torch

import explorer
from explorer import PRESETS, StageSpec, StemSpec, build_model, plan_network, to_code
from explorer.presets import FAMILY

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
    net = load_generated(to_code(spec, name), tmp_path, name).net.eval()
    assert sum(p.numel() for p in net.parameters()) == plan.params
    ours = build_model(spec).eval()
    theirs, mine = net.state_dict(), ours.state_dict()
    assert [tuple(v.shape) for v in theirs.values()] == [tuple(v.shape) for v in mine.values()]
    net.load_state_dict(dict(zip(theirs, (_randomised(v, i) for i, v in enumerate(mine.values())), strict=True)))
    ours.load_state_dict(dict(zip(mine, theirs.values(), strict=True)))
    x = torch.rand(2, spec.input.channels, side, side)
    with torch.no_grad():
        y = x
        for layer, part in zip(net, plan.parts, strict=False):  # b1 = stem, b2.. = stages
            y = layer(y)
            if part.name != "head":
                assert tuple(y.shape[1:]) == part.out_shape, part.name
        assert torch.equal(net(x), ours(x))


def _randomised(value: torch.Tensor, seed: int) -> torch.Tensor:
    """Weights and BN statistics away from their initial values, so a misplaced layer shows."""
    if not value.is_floating_point():
        return value
    return value + 0.05 * torch.randn(value.shape, generator=torch.Generator().manual_seed(seed))


def test_zero_init_makes_every_block_the_identity_branch(tmp_path):
    spec = VARIANTS["preact-zero-init"]
    net = load_generated(to_code(spec), tmp_path, "z").net
    blocks = [m for m in net.modules() if type(m).__name__ == "Residual"]
    assert blocks and all(torch.count_nonzero(b.conv2.weight) == 0 for b in blocks)


def test_d2l_export_reads_like_the_seed():
    source = to_code(explorer.preset("d2l-resnet18"), "d2l-resnet18")
    assert "class Residual(nn.Module)" in source
    assert "def resnet_block(" in source
    assert "b2 = nn.Sequential(*resnet_block(64, 64, 2, strides=1))" in source
    assert "nn.Linear(512, 10)" in source
    assert "11,178,378 parameters" in source
    assert "import explorer" not in source and "streamlit" not in source


def test_export_runs_as_a_script(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(to_code(explorer.preset("resnet20")))
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True).stdout
    assert "torch.Size([1, 64, 8, 8])" in out
    assert "parameters: 269722" in out
