"""ONNX export: a valid model (onnx.checker) that ONNX Runtime runs to PyTorch's outputs."""

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from explorer import build_model, to_onnx
from explorer.presets import FAMILY, PRESETS

# one of every layer kind: zero-pad shortcut, 1-channel stem, SE, ECA, blur, 2x2 anti-aliasing,
# group norm, pre-activation bottleneck, ResNet-D at an odd size, ResNet-RS's conv pool, dilation
CASES = {
    "resnet20": PRESETS["resnet20"],
    "d2l-resnet18": PRESETS["d2l-resnet18"],
    "seresnet18": FAMILY["seresnet18"].with_input(3, 65, 65),
    "ecaresnet26t": FAMILY["ecaresnet26t"].with_input(3, 64, 64),
    "resnetblur18": FAMILY["resnetblur18"].with_input(3, 64, 64),
    "resnetaa34d": FAMILY["resnetaa34d"].with_input(3, 64, 64),
    "resnet50_gn": FAMILY["resnet50_gn"].with_input(3, 64, 64),
    "resnetv2_50d": FAMILY["resnetv2_50d"].with_input(3, 97, 97),
    "resnetrs50": FAMILY["resnetrs50"].with_input(3, 64, 64),
    "resnet50d-os8": FAMILY["resnet50d"]
    .with_input(3, 64, 64)
    .__class__(**{**FAMILY["resnet50d"].with_input(3, 64, 64).__dict__, "output_stride": 8}),
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
