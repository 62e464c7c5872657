"""Opening checkpoints: the network inferred from tensor names and shapes, strict loads, files
that are not ResNets, truncated or hold code, and the `summary --weights` command."""

import io

import pytest
import safetensors.torch
import torch
import torchvision

import explorer
from explorer import PRESETS, build_model, load_state_dict, plan_network, spec_from_state_dict
from explorer.arch.checkpoint import matching_names, tensor_shapes, unwrap
from explorer.arch.presets import FAMILY, TORCHVISION_PRESETS
from explorer.arch.spec import SpecError
from explorer.arch.weights_file import read_weights
from explorer.cli import main


def _meta_state_dict(spec):
    with torch.device("meta"):
        return build_model(spec).state_dict()


SPECS = {**PRESETS, **{n: FAMILY[n] for n in ("resnetblur18", "senet154", "ecaresnet26t", "resnetv2_18d")}}
SPECS["dilated-resnet50-os8"] = PRESETS["resnet50"].__class__(**{**PRESETS["resnet50"].__dict__, "output_stride": 8})


@pytest.mark.parametrize("name", SPECS)
def test_the_plans_tensor_shapes_are_the_built_models(name):
    spec = SPECS[name]
    expected = {k: tuple(v.shape) for k, v in _meta_state_dict(spec).items()}
    assert tensor_shapes(plan_network(spec)) == expected


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_recognised_from_its_weights(name):
    spec = PRESETS[name]
    inferred = spec_from_state_dict(_meta_state_dict(spec), (spec.input.height, spec.input.width))
    assert name in matching_names(inferred, PRESETS)
    if spec.anti_alias == "none" and not (spec.preact and spec.shortcut == "D"):
        assert inferred == spec  # all a state_dict can show; v2's avg-pool shortcut and blur cannot be seen


@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d"])
def test_torchvision_state_dicts_give_the_preset_and_load_strictly(name):
    reference = getattr(torchvision.models, name)().eval()
    spec = spec_from_state_dict(reference.state_dict())
    assert spec == explorer.preset(name) and name in TORCHVISION_PRESETS
    ours = load_state_dict(build_model(spec).eval(), reference.state_dict())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


def test_wrapped_checkpoints_are_unwrapped():
    sd = build_model(PRESETS["resnet-mini"]).state_dict()
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in sd.items()}}
    assert unwrap(wrapped).keys() == sd.keys()
    assert spec_from_state_dict(wrapped, (28, 28)) == PRESETS["resnet-mini"]


def test_inferring_a_network_reads_only_names_and_shapes():
    """Meta tensors have shapes and no data: inference never reads a weight, so it costs milliseconds
    whatever the file's size."""
    with torch.device("meta"):
        sd = torchvision.models.resnet152().state_dict()
    assert spec_from_state_dict(sd) == PRESETS["resnet152"]


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_pt_and_safetensors_files_round_trip():
    sd = build_model(PRESETS["resnet20"]).state_dict()
    assert read_weights(_saved(sd), "a.pt").keys() == sd.keys()
    tensors = read_weights(safetensors.torch.save({k: v.contiguous() for k, v in sd.items()}), "a.safetensors")
    assert torch.equal(tensors["fc.weight"], sd["fc.weight"])
    assert spec_from_state_dict(tensors) == PRESETS["resnet20"]


@pytest.mark.parametrize(
    "data, words",
    [
        (_saved(torch.nn.Linear(2, 2)), "pickled objects other than tensors"),  # a whole module: code
        (_saved({"conv1.weight": torch.zeros(1)})[:100], "truncated or not a PyTorch checkpoint"),
        (b"GIF89a not a checkpoint at all", "truncated or not a PyTorch checkpoint"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......", "not a readable safetensors file"),
        (_saved({"epoch": 3}), "is not a tensor"),
        (_saved({}), "holds no state_dict"),
    ],
    ids=["module", "truncated", "gif", "bad-safetensors", "not-a-tensor", "empty"],  # torch.save's bytes vary
)
def test_bad_files_get_one_sentence(data, words):
    with pytest.raises(SpecError, match=words) as err:
        read_weights(data, "upload.pt")
    assert str(err.value).startswith("weights: ") and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "model, words",
    [
        ("vgg11", "no stem convolution"),
        ("mobilenet_v2", "no stem convolution"),
        ("densenet121", "no stem convolution"),
    ],
)
def test_other_networks_are_named_not_resnets(model, words):
    with torch.device("meta"):
        sd = getattr(torchvision.models, model)().state_dict()
    with pytest.raises(SpecError, match=words):
        spec_from_state_dict(sd)


def test_summary_reads_a_weights_file(tmp_path, capsys):
    path = tmp_path / "downloaded.pth"
    path.write_bytes(_saved(build_model(FAMILY["resnet26t"]).state_dict()))
    assert main(["summary", "--weights", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("resnet26t: input 3x224x224, 1000 classes, bottleneck blocks, shortcut D")
    assert "Total params:      16,011,872" in out
    (tmp_path / "broken.pt").write_bytes(path.read_bytes()[:5000])
    assert main(["summary", "--weights", str(tmp_path / "broken.pt")]) == 2
    assert capsys.readouterr().err == "error: weights: broken.pt is truncated or not a PyTorch checkpoint\n"
