"""The plan against references nobody here wrote: torchvision, its published numbers, torchinfo."""

import pytest
import torch
import torchinfo
import torchvision

import explorer
from explorer import PRESETS, TORCHVISION_PRESETS, analyze, build_model, plan_network
from explorer.arch.reference import published, verified_against

# torchvision's published numbers (docs, "Table of all available classification weights"),
# and He et al. 2016's CIFAR-10 networks with option A shortcuts.
PUBLISHED = {
    "resnet18": (11_689_512, 1.814),
    "resnet50": (25_557_032, 4.089),
    "resnet152": (60_192_808, 11.513),
    "resnext50_32x4d": (25_028_904, 4.230),
    "wide_resnet50_2": (68_883_240, 11.398),
    "resnet20": (269_722, None),
    "resnet56": (853_018, None),
    "resnet110": (1_727_962, None),
    "d2l-resnet18": (11_178_378, None),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_counts(name):
    params, gmacs = PUBLISHED[name]
    a = analyze(explorer.preset(name))
    assert a.total_params == params
    assert a.trainable_params == params
    if gmacs is not None:
        assert abs(a.macs / 1e9 - gmacs) < 0.0015  # torchvision rounds to 3 decimals (11.5136 -> 11.513/11.514)


@pytest.mark.parametrize("name", TORCHVISION_PRESETS)
def test_torchvision_metadata_and_verified_mark(name):
    ref = published(name)
    plan = plan_network(explorer.preset(name))
    assert ref.params == plan.params
    assert round(plan.macs / 1e9, 3) == ref.gmacs
    assert verified_against(plan) == ref


def test_edited_torchvision_preset_is_not_verified():
    spec = explorer.preset("resnet50").with_classes(10)
    assert verified_against(plan_network(spec)) is None


def _small_input(spec):
    side = min(spec.input.height, 64)
    return torch.rand(2, spec.input.channels, side, side)


@pytest.mark.parametrize("name", list(PRESETS))
def test_plan_matches_built_model(name):
    """Params exactly; every planned layer's output shape from a forward pass on a small input
    (on the meta device: the shapes, without the seconds of initialising 127M weights)."""
    spec = explorer.preset(name)
    x = _small_input(spec).to("meta")
    spec = spec.with_input(*x.shape[1:])
    plan = plan_network(spec)
    with torch.device("meta"):
        model = build_model(spec, plan).eval()
    assert sum(p.numel() for p in model.parameters()) == plan.params
    modules = dict(model.named_modules())
    seen = {}
    hooks = [
        modules[layer.name].register_forward_hook(lambda m, i, o, n=layer.name: seen.__setitem__(n, tuple(o.shape[1:])))
        for layer in plan.layers
    ]
    with torch.no_grad():
        out = model(x)
    for h in hooks:
        h.remove()
    assert tuple(out.shape) == (2, spec.num_classes)
    for layer in plan.layers:
        expected = layer.out_shape if layer.kind != "fc" else (spec.num_classes,)
        assert seen[layer.name] == expected, layer.name
    for block in plan.blocks:
        assert sum(p.numel() for p in modules[block.name].parameters()) == block.params


@pytest.mark.parametrize("name", TORCHVISION_PRESETS)
def test_torchvision_weights_load_strict_and_outputs_identical(name):
    """torchvision's own model, its state_dict loaded strictly, the same logits bit for bit."""
    reference = getattr(torchvision.models, name)().eval()
    with torch.device("meta"):  # no initialisation of ours: every tensor comes from torchvision's
        ours = build_model(explorer.preset(name)).eval()
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))


@pytest.mark.parametrize("name", ["d2l-resnet18", "resnet18", "resnet50", "resnext50_32x4d", "resnet56", "resnet-mini"])
def test_torchinfo_agrees(name):
    """torchinfo runs a real forward; its mult-adds also count BN (its params) and conv biases."""
    spec = explorer.preset(name)
    model = build_model(spec)
    info = torchinfo.summary(model, input_size=(1, spec.input.channels, spec.input.height, spec.input.width), verbose=0)
    plan = plan_network(spec)
    assert info.total_params == plan.params
    assert info.trainable_params == plan.params
    extra = 0
    for layer in plan.layers:
        if layer.kind == "norm":
            extra += layer.params
        elif layer.kind == "conv" and spec.conv_bias:
            extra += layer.out_numel
        elif layer.kind == "fc":
            extra += spec.num_classes
    assert info.total_mult_adds == plan.macs + extra


RF_SPECS = {
    "resnet20": explorer.preset("resnet20"),
    "bottleneck-deep-stem-D": explorer.spec_from_dict(
        {
            "input": {"channels": 1, "height": 32, "width": 32},
            "num_classes": 4,
            "stem": {"kind": "deep", "width": 8},
            "block": "bottleneck",
            "shortcut": "D",
            "stages": [{"blocks": 1, "channels": 4, "stride": 1}, {"blocks": 2, "channels": 8, "stride": 2}],
        }
    ),
    "preact-imagenet-stem": explorer.spec_from_dict(
        {
            "input": {"channels": 1, "height": 32, "width": 32},
            "num_classes": 4,
            "block": "preact",
            "stages": [{"blocks": 1, "channels": 4, "stride": 1}, {"blocks": 1, "channels": 8, "stride": 2}],
        }
    ),
    # output stride 4: the second and third stages dilate instead of subsampling; tiered stem, blur
    "dilated-tiered-blur": explorer.spec_from_dict(
        {
            "input": {"channels": 1, "height": 32, "width": 32},
            "num_classes": 4,
            "stem": {"kind": "tiered", "width": 16},
            "block": "bottleneck",
            "anti_alias": "blur",
            "output_stride": 4,
            "stages": [
                {"blocks": 1, "channels": 4, "stride": 1},
                {"blocks": 1, "channels": 8, "stride": 2},
                {"blocks": 1, "channels": 8, "stride": 2},
            ],
        }
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", list(RF_SPECS))
def test_receptive_field_matches_gradient(name):
    """The planned receptive field equals the input region that reaches one output unit, measured
    by back-propagating from the centre unit through a network with positive weights (so nothing
    cancels; max-pools become avg-pools of the same geometry so every input gets gradient)."""
    spec = RF_SPECS[name]
    rf = plan_network(spec).stages[-1].blocks[-1].rf
    side = 2 * rf + 17
    spec = spec.with_input(spec.input.channels, side, side)
    model = build_model(spec).eval()
    for m in list(model.modules()):
        for child_name, child in m.named_children():
            if isinstance(child, torch.nn.MaxPool2d):
                setattr(m, child_name, torch.nn.AvgPool2d(3, child.stride, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.full_like(p, 0.01))
    features = {}
    last_stage = getattr(model, model.stage_names[-1])
    last_stage.register_forward_hook(lambda m, i, o: features.setdefault("out", o))
    x = torch.ones(1, spec.input.channels, side, side, requires_grad=True)
    model(x)
    out = features["out"]
    centre = out.shape[-1] // 2
    out[0, :, centre, centre].sum().backward()
    rows = (x.grad[0].abs().sum(dim=(0, 2)) > 0).nonzero().flatten()
    assert rows.min() > 0 and rows.max() < side - 1  # not clipped by the border
    assert rows.max() - rows.min() + 1 == rf


def test_activation_estimate_scales_with_batch():
    a = analyze(explorer.preset("resnet18"))
    assert a.activation_bytes(8) == 8 * a.activation_bytes(1) == 8 * 26_699_680
    assert a.depth == 18
    assert analyze(explorer.preset("resnet50")).depth == 50
    assert analyze(explorer.preset("resnet110")).depth == 110


def test_stage_rows_sum_to_totals():
    a = analyze(explorer.preset("resnet152"))
    assert [s.name for s in a.stages] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert sum(s.params for s in a.stages) == a.total_params
    assert sum(s.macs for s in a.stages) == a.macs
    assert [s.blocks for s in a.stages] == [0, 3, 8, 36, 3, 0]
    assert [s.reduction for s in a.stages] == [4, 4, 8, 16, 32, None]
    assert a.stages[-2].output_shape == (2048, 7, 7)


@pytest.mark.parametrize("output_stride, dilate", [(16, [False, False, True]), (8, [False, True, True])])
def test_output_stride_is_torchvisions_replace_stride_with_dilation(output_stride, dilate):
    reference = torchvision.models.resnet50(replace_stride_with_dilation=dilate).eval()
    spec = explorer.preset("resnet50").with_input(3, 97, 97)
    spec = explorer.spec_from_dict({**spec.to_dict(), "output_stride": output_stride})
    ours = explorer.load_state_dict(build_model(spec).eval(), reference.state_dict())
    x = torch.rand(1, 3, 97, 97)
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
    plan = plan_network(spec)
    assert plan.stages[-1].out_shape == (2048, 13, 13) if output_stride == 8 else (2048, 7, 7)
    assert plan.stages[-1].reduction == output_stride
