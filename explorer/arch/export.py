"""Export a network to ONNX: the file a user opens in Netron or serves with ONNX Runtime."""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn

from .spec import ResNetSpec

OPSET = 17  # ONNX Runtime 1.14+ and Netron read it; every layer kind here maps to plain ops


def to_onnx(model: nn.Module, spec: ResNetSpec) -> bytes:
    """`model` (the network of `spec`) as ONNX bytes: input "image" (batch, C, H, W) float32,
    output "logits" (batch, classes); the batch size is free. The model is exported in eval
    mode (BN uses its running statistics, dropout and drop-path are off) and left as it was."""
    x = torch.zeros(1, spec.input.channels, spec.input.height, spec.input.width)
    was_training = model.training
    model.eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on its own constant folding and tracing
            # The TorchScript-based exporter: a tenth of a second for resnet-mini, no onnxscript needed.
            torch.onnx.export(
                model,
                (x,),
                buffer,
                input_names=["image"],
                output_names=["logits"],
                dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
    finally:
        model.train(was_training)
    return buffer.getvalue()
