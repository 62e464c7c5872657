"""ONNX export: a valid model (onnx.checker) that ONNX Runtime runs to PyTorch's outputs."""

import dataclasses

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from explorer import StemSpec, build_model, to_onnx
from explorer.arch.presets import FAMILY, PRESETS

# one of every layer kind: zero-pad shortcut, 1-channel stem, SE, ECA, blur, 2x2 anti-aliasing,
# group norm, pre-activation bottleneck, ResNet-D at an odd size, ResNet-RS's conv pool, dilation
SMALL = FAMILY["resnet14t"].with_input(3, 64, 64)  # one bottleneck per stage, tiered stem
CASES = {
    "resnet20": PRESETS["resnet20"],
    "d2l-resnet18": PRESETS["d2l-resnet18"],
    "seresnet18": FAMILY["seresnet18"].with_input(3, 65, 65),
    "ecaresnet26t": FAMILY["ecaresnet26t"].with_input(3, 64, 64),
    "resnetblur18": FAMILY["resnetblur18"].with_input(3, 64, 64),
    "avg-aa-group-norm": dataclasses.replace(SMALL, anti_alias="avg", norm="group", stem=StemSpec("deep", 64)),
    "resnetv2_18d": FAMILY["resnetv2_18d"].with_input(3, 97, 97),
    "preact-bottleneck-rs-stem": dataclasses.replace(
        SMALL, block="preact_bottleneck", stem=StemSpec("deep", 64, "conv", False)
    ),
    "dilated-D-silu": dataclasses.replace(SMALL, output_stride=8, activation="silu"),
}


@pytest.mark.parametrize("name", CASES)
def test_onnx_runs_to_pytorchs_outputs(name):
    spec = CASES[name]
    model = build_model(spec).train()
    data = to_onnx(model, spec)
    assert model.training  # left as it was
    onnx.checker.check_model(onnx.load_from_string(data))
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = torch.randn(3, spec.input.channels, spec.input.height, spec.input.width)  # another batch size
    (logits,) = session.run(["logits"], {"image": x.numpy()})
    with torch.no_grad():
        expected = model.eval()(x).numpy()
    assert logits.shape == (3, spec.num_classes)
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=1e-4)
