"""Looking into one part of a network: the parameter arithmetic, the skip path, the part's output,
and the diagram's clickable parts, paging and direction."""

import math
import re

import pytest
import torch

from explorer import PRESETS, build_model, plan_network, preset
from explorer.arch.diagram import to_dot
from explorer.arch.spec import SpecError
from explorer.inspect.look_inside import layers_of, part_names, part_output, part_view, sample_input, weight_arithmetic

from .seed_d2l import seed_net, seed_to_explorer_names


def test_d2l_block_arithmetic_is_written_out():
    """The d2l network has biases in every conv: 3x3x64x64 weights + 64 biases = 36,928."""
    view = part_view(plan_network(preset("d2l-resnet18")), "layer2.0")
    assert view.arithmetic == (
        "conv1: 3×3×64×128 + 128 = 73,856",
        "bn1: 2×128 = 256",
        "conv2: 3×3×128×128 + 128 = 147,584",
        "bn2: 2×128 = 256",
        "downsample.0: 1×1×64×128 + 128 = 8,320",
    )
    assert (view.in_shape, view.out_shape, view.params) == ((64, 24, 24), (128, 12, 12), 230_272)
    assert view.skip == "1x1 projection: x 64x24x24 → 1x1/2, 64->128, bias → 128x12x12, added to F(x)"
    first = part_view(plan_network(preset("d2l-resnet18")), "layer1.0")
    assert first.arithmetic[0] == "conv1: 3×3×64×64 + 64 = 36,928"
    assert first.skip == "identity: x is added to F(x) unchanged (64x24x24)"


def test_attention_and_head_arithmetic():
    plan = plan_network(preset("seresnet50"))
    se = next(layer for layer in plan.layers if layer.kind == "se")
    assert weight_arithmetic(se) == "256×16 + 16 + 16×256 + 256 = 8,464"  # timm's rd: 256/16 = 16
    eca = next(layer for layer in plan_network(preset("ecaresnet50d")).layers if layer.kind == "eca")
    assert weight_arithmetic(eca) == "5 = 5"  # ECA's kernel for 256 channels
    head = part_view(plan, "head")
    assert head.arithmetic == ("fc: 2048×1000 + 1000 = 2,049,000",) and head.out_shape == (1000,)
    assert part_view(plan_network(preset("resnetv2_50")), "layer2.0").skip.startswith(
        "1x1 projection: the input after the first norm and activation 256x56x56"
    )


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_parts_add_up_to_the_network(name):
    plan = plan_network(PRESETS[name])
    views = [part_view(plan, part) for part in part_names(plan)]
    assert sum(view.params for view in views) == plan.params
    for view in views:  # every weighted layer written out, and its sum right
        for line in view.arithmetic:
            terms, total = line.split(": ", 1)[1].split(" = ")
            product = sum(math.prod(map(int, term.split("×"))) for term in terms.split(" + "))
            assert product == int(total.replace(",", "")), line


def test_unknown_part_is_a_spec_error():
    with pytest.raises(SpecError, match="'layer9.0' is not in this network"):
        part_view(plan_network(preset("resnet18")), "layer9.0")


def test_part_outputs_match_the_seed_network():
    """The stem's, a block's and the head's outputs for the sample digit, from our model with the
    d2l code's weights loaded, equal the d2l code's own intermediate tensors."""
    spec = preset("d2l-resnet18")
    ours, theirs = build_model(spec).eval(), seed_net().eval()
    ours.load_state_dict(seed_to_explorer_names(theirs.state_dict()))
    x = sample_input(spec)
    assert x.shape == (1, 1, 96, 96) and x.min() == -1
    with torch.no_grad():
        stem = theirs[0](x)
        block = theirs[1](stem)
        scores = theirs(x)[0]
    assert torch.equal(part_output(ours, "stem", x), stem[0])
    assert torch.equal(part_output(ours, "layer1.1", x), block[0])
    assert torch.equal(part_output(ours, "head", x), scores)
    assert part_output(ours, "layer3.0", x).shape == plan_network(spec).blocks[4].out_shape


def test_a_layers_output_is_kept_before_an_in_place_activation_changes_it():
    spec = preset("resnet18")
    model, x = build_model(spec).eval(), sample_input(spec)
    norm, act = part_output(model, "layer2.0.bn1", x), part_output(model, "layer2.0.act1", x)
    assert norm.min() < 0 and torch.equal(act, norm.relu())  # ReLU(inplace=True) follows bn1
    assert [layer.name for layer in layers_of(plan_network(spec), "stem")] == ["conv1", "bn1", "act1", "maxpool"]
    assert layers_of(plan_network(spec), "head") == []


def test_diagram_parts_carry_their_module_names():
    plan = plan_network(preset("resnet50"))
    ids = re.findall(r'id="([^"]+)"', to_dot(plan, expand=True))
    assert ids == part_names(plan)
    collapsed = re.findall(r'id="([^"]+)"', to_dot(plan))
    assert collapsed[:4] == ["stem", "layer1.0", "layer1.1", "layer2.0"] and len(collapsed) == 2 + 2 * 4


def test_one_stage_at_a_time_and_left_to_right():
    plan = plan_network(preset("resnet152"))
    page = to_dot(plan, expand=True, stage="layer3")
    assert re.findall(r'id="([^"]+)"', page) == [f"layer3.{i}" for i in range(36)]
    assert '"from layer2"' in page and '"to layer4"' in page and "stem" not in page
    assert "rankdir=LR" in to_dot(plan, direction="LR")
    with pytest.raises(ValueError, match="stage must be one of layer1, layer2, layer3, layer4"):
        to_dot(plan, stage="layer5")
