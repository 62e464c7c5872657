"""URL encoding of specs, the stage shorthand, diffs, and the DOT block diagram."""

import dataclasses
import re

import pytest

import explorer
from explorer import PRESETS, SpecError, StageSpec, StemSpec, plan_network
from explorer.arch.diagram import to_dot
from explorer.arch.share import from_query, spec_diff, stages_from_text, stages_to_text, to_query


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_urls_are_just_the_name(name):
    assert to_query(PRESETS[name], name) == {"preset": name}
    assert from_query({"preset": name}) == (PRESETS[name], name)


EDITS = {
    "classes": dict(num_classes=7),
    "input": dict(input=explorer.InputSpec(3, 64, 48)),
    "stem": dict(stem=StemSpec("deep", 32)),
    "stages": dict(stages=(StageSpec(1, 32, 1), StageSpec(3, 64, 2, "A"), StageSpec(2, 128, 2, "identity"))),
    "flags": dict(residual=False, conv_bias=False, batch_norm=False, shortcut_bn=True, zero_init_residual=True),
    "bottleneck": dict(block="bottleneck", groups=8, width_per_group=16, shortcut="D"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_edited_specs_round_trip_through_the_url(edit):
    spec = dataclasses.replace(PRESETS["d2l-resnet18"], **EDITS[edit])
    query = to_query(spec, "d2l-resnet18")
    assert query["preset"] == "d2l-resnet18" and len(query) > 1
    assert from_query(query) == (spec, "d2l-resnet18")


def test_stage_shorthand():
    stages = (StageSpec(3, 64, 1), StageSpec(4, 128, 2, "A"))
    assert stages_to_text(stages) == "3x64s1,4x128s2-A"
    assert stages_from_text(" 3x64s1, 4x128s2-A ") == stages


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"preset": "resnet9000"}, "unknown preset 'resnet9000'"),
        ({"stages": "2x64"}, "stages[0]: '2x64' is not BLOCKSxCHANNELSsSTRIDE"),
        ({"stages": "2x64s1,2x128s3"}, "stages[1].stride: 3 is out of range"),
        ({"stages": ""}, "stages: empty"),
        ({"stages": "1x1s1," * 1000}, "at most 2000"),
        ({"classes": "ten"}, "classes: expected a whole number"),
        ({"classes": "0"}, "num_classes: 0 is out of range"),
        ({"input": "1,2"}, "input: expected C,H,W"),
        ({"residual": "yes"}, "residual: expected 0 or 1"),
        ({"block": "<script>"}, "block: unknown value '<script>'"),
        ({"stem": "vit:64"}, "stem.kind: unknown value 'vit'"),
    ],
)
def test_url_garbage_is_a_spec_error(params, words):
    with pytest.raises(SpecError) as info:
        from_query(params)
    assert words in str(info.value)


def test_unknown_query_keys_are_ignored():
    assert from_query({"preset": "resnet18", "utm_source": "slides"})[0] == PRESETS["resnet18"]


def test_diff_in_words():
    base = PRESETS["resnet50"]
    spec = dataclasses.replace(
        base, num_classes=10, stages=(*base.stages[:2], StageSpec(8, 256, 2), *base.stages[3:], StageSpec(1, 64, 2))
    )
    assert spec_diff(base, spec) == [
        "num_classes: 1000 -> 10",
        "stages[2].blocks: 6 -> 8",
        "stages[4]: added 1x64s2",
    ]
    assert spec_diff(base, base) == []


def _skip_labels(dot: str) -> list[str]:
    return re.findall(r'label=" ([^"]*?) ", color', dot)


def test_collapsed_resnet152_draws_two_blocks_per_stage():
    dot = to_dot(plan_network(PRESETS["resnet152"]))
    assert dot.count('label="+"') == 8
    assert "layer3.1–35: block ×35" in dot
    assert _skip_labels(dot) == [
        "1x1 projection (256)",
        "identity",
        "1x1 projection (512, /2)",
        "identity",
        "1x1 projection (1024, /2)",
        "identity",
        "1x1 projection (2048, /2)",
        "identity",
    ]
    assert " 1024x14x14 " in dot and " 2048x7x7 " in dot  # shapes on the edges


def test_expanded_d2l_draws_every_block():
    dot = to_dot(plan_network(PRESETS["d2l-resnet18"]), expand=True)
    assert dot.count('label="+"') == 8 and dot.count('xlabel="then ReLU"') == 8  # the activation after the sum
    assert "7×7 conv, 64, /2" in dot and "3×3 max-pool, /2" in dot
    assert "3×3 conv, 128, /2, BN, ReLU" in dot


def test_shortcut_kinds_are_labelled():
    base = PRESETS["resnet-mini"]
    zero = _skip_labels(to_dot(plan_network(dataclasses.replace(base, shortcut="A"))))
    assert zero == ["identity", "zero-pad (+16 ch, /2)", "zero-pad (+32 ch, /2)"]
    d = _skip_labels(to_dot(plan_network(dataclasses.replace(base, shortcut="D"))))
    assert d[1] == "avg-pool + 1x1 (32, /2)"
    plain = to_dot(plan_network(dataclasses.replace(base, residual=False)))
    assert _skip_labels(plain) == [] and plain.count("no skip") == 3


def test_every_layer_kind_is_drawn_in_the_order_it_runs():
    """Post-activation: conv, norm, act on a line; pre-activation: norm, act, conv; attention and
    blur on lines of their own; nothing after a pre-activation sum."""
    from explorer.arch.presets import FAMILY

    rs = to_dot(plan_network(FAMILY["resnetrs50"]))
    assert "1×1 conv, 256, BN\\nSE (256→64→256)" in rs and "3×3 conv, 64, /2, BN, ReLU" in rs  # the stem's pool
    v2 = to_dot(plan_network(FAMILY["resnetv2_50"]))
    assert "BN, ReLU, 1×1 conv, 64\\nBN, ReLU, 3×3 conv, 64\\nBN, ReLU, 1×1 conv, 256" in v2
    assert "then " not in v2 and "head\\nBN, ReLU\\nglobal avg-pool\\nfc, 1000" in v2
    blur = to_dot(plan_network(FAMILY["resnetblur18"]))
    assert "3×3 conv, 128, BN, ReLU\\nblur, /2\\n3×3 conv, 128, BN" in blur
    silu = to_dot(plan_network(dataclasses.replace(PRESETS["resnet-mini"], activation="silu")))
    assert 'xlabel="then SiLU"' in silu
