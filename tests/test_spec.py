"""The spec: validation (every bad value named), JSON round trip, hostile input."""

import json

import pytest

import explorer
from explorer import PRESETS, ResNetSpec, SpecError, StageSpec, spec_from_dict, spec_from_json
from explorer.arch.spec import MAX_JSON_BYTES


@pytest.mark.parametrize("name", list(PRESETS))
def test_json_round_trip(name):
    spec = PRESETS[name]
    assert spec_from_json(spec.to_json()) == spec
    assert spec_from_dict(json.loads(spec.to_json(indent=None))) == spec


def test_json_uses_documented_keys():
    data = json.loads(explorer.preset("d2l-resnet18").to_json())
    assert data["input"] == {"channels": 1, "height": 96, "width": 96}
    assert data["num_classes"] == 10
    assert data["stages"][1] == {"blocks": 2, "channels": 128, "stride": 2}
    for key in ("block", "groups", "width_per_group", "shortcut", "residual"):
        assert key in data


def test_missing_keys_take_defaults():
    spec = spec_from_json('{"input": {"channels": 1, "height": 28, "width": 28}, "num_classes": 10}')
    assert spec.input.height == 28 and spec.block == "basic" and len(spec.stages) == 4


def test_with_input_copies():
    spec = explorer.preset("resnet50")
    other = spec.with_input(1, 64, 48)
    assert (other.input.channels, other.input.height, other.input.width) == (1, 64, 48)
    assert spec.input.height == 224 and other.stages == spec.stages


def base(**changes):
    data = json.loads(explorer.preset("resnet-mini").to_json())
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if key.isdigit() else node[key]
        node[keys[-1] if not keys[-1].isdigit() else int(keys[-1])] = value
    return json.dumps(data)


BAD = [
    # (changes, field named in the message, words the message must contain)
    ({"input__height": 0}, "input.height", "1..4096"),
    ({"input__width": 5000}, "input.width", "1..4096"),
    ({"input__channels": -3}, "input.channels", "1..8192"),
    ({"input__channels": True}, "input.channels", "integer"),
    ({"input__height": "96"}, "input.height", "integer"),
    ({"input__height": 96.0}, "input.height", "integer"),
    ({"num_classes": 0}, "num_classes", "1..100000"),
    ({"num_classes": 100001}, "num_classes", "1..100000"),
    ({"num_classes": None}, "num_classes", "integer"),
    ({"stages__0__channels": 0}, "stages[0].channels", "1..8192"),
    ({"stages__1__channels": 9000}, "stages[1].channels", "1..8192"),
    ({"stages__0__blocks": 0}, "stages[0].blocks", "1..500"),
    ({"stages__0__blocks": False}, "stages[0].blocks", "integer"),
    ({"stages__2__stride": 3}, "stages[2].stride", "1..2"),
    ({"stages__2__stride": 1.5}, "stages[2].stride", "integer"),
    ({"stages": []}, "stages", "empty"),
    ({"stages": {"blocks": 2}}, "stages", "list"),
    ({"stages__0": [2, 64, 1]}, "stages[0]", "object"),
    ({"block": "resnext"}, "block", "basic, bottleneck, preact"),
    ({"shortcut": "E"}, "shortcut", "identity, A, B, C, D"),
    ({"stages__1__shortcut": "Z"}, "stages[1].shortcut", "identity, A, B, C, D"),
    ({"stem__kind": "vit"}, "stem.kind", "imagenet, cifar, deep"),
    ({"stem__width": 0}, "stem.width", "1..8192"),
    ({"groups": 32}, "groups", "bottleneck"),
    ({"width_per_group": 128}, "width_per_group", "bottleneck"),
    ({"residual": "yes"}, "residual", "true or false"),
    ({"conv_bias": 1}, "conv_bias", "true or false"),
    ({"input": [1, 28, 28]}, "input", "object"),
]


@pytest.mark.parametrize(("changes", "field", "words"), BAD, ids=[next(iter(c)) for c, _, _ in BAD])
def test_bad_values_name_field_and_range(changes, field, words):
    with pytest.raises(SpecError) as info:
        spec_from_json(base(**changes))
    message = str(info.value)
    assert message.startswith(field + ":"), message
    assert words in message, message
    assert info.value.field == field


def test_unknown_key_is_named_with_suggestion():
    text = json.dumps({**json.loads(base()), "stages": [{"blocks": 1, "chanels": 16, "stride": 1}]})
    with pytest.raises(SpecError, match=r"stages\[0\]\.chanels: unknown key 'chanels' \(did you mean 'channels'\?\)"):
        spec_from_json(text)
    with pytest.raises(SpecError, match="unknown key 'num_class' .*did you mean 'num_classes'"):
        spec_from_json('{"num_class": 10}')
    with pytest.raises(SpecError, match=r"input\.hight"):
        spec_from_json('{"input": {"channels": 1, "hight": 28, "width": 28}}')


def test_bottleneck_groups_need_a_channel_each():
    data = json.loads(explorer.preset("resnext50_32x4d").to_json())
    data["stages"][0]["channels"] = 8  # 8 * 4 / 64 = 0.5 channels per group
    with pytest.raises(SpecError, match="width_per_group: .*less than one channel per group.*32 groups"):
        spec_from_dict(data)


def test_total_blocks_capped():
    with pytest.raises(SpecError, match="stages: 1500 blocks in all; allowed at most 1000"):
        ResNetSpec(stages=(StageSpec(500, 16, 1), StageSpec(500, 32, 2), StageSpec(500, 64, 2)))


def test_too_many_stages():
    with pytest.raises(SpecError, match="stages: 17 stages; allowed 1..16"):
        spec_from_dict({"stages": [{"blocks": 1, "channels": 8, "stride": 1}] * 17})


HOSTILE = [
    ("[1, 2, 3]", "expected a JSON object, got list"),
    ('"resnet"', "expected a JSON object, got str"),
    ("null", "expected a JSON object, got NoneType"),
    ('{"num_classes": NaN}', "NaN is not a number JSON allows"),
    ('{"num_classes": Infinity}', "Infinity is not a number"),
    ('{"num_classes": 1e400}', "num_classes: expected an integer"),
    ('{"num_classes": 1' + "0" * 5000 + "}", "invalid JSON"),
    ("{", "invalid JSON at line 1"),
    ("", "invalid JSON at line 1, column 1"),
    ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ('{"input": {"channels": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}', "nested too deeply"),
    (b"\xff\xfe{}", "not UTF-8"),
    (" " * (MAX_JSON_BYTES + 1), "at most 100,000"),
]


@pytest.mark.parametrize(("text", "words"), HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_json_is_refused_cleanly(text, words):
    with pytest.raises(SpecError) as info:
        spec_from_json(text)
    assert words in str(info.value)


def test_spec_error_is_value_error():
    assert issubclass(SpecError, ValueError)


def test_programmatic_construction_validates():
    with pytest.raises(SpecError, match=r"stages\[1\]\.stride"):
        ResNetSpec(stages=(StageSpec(1, 8, 1), StageSpec(1, 8, 4)))
    spec = ResNetSpec(stages=[StageSpec(1, 8, 1)])  # a list becomes a tuple: the spec stays hashable
    assert hash(spec) == hash(ResNetSpec(stages=(StageSpec(1, 8, 1),)))
