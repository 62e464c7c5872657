"""One training step, eager or replayed from a CUDA graph.

On a GPU a ResNet-18 step at batch 256 is bound by the CPU launching ~400 small kernels one by
one (14 ms per step on an H200, of which the GPU is busy 5.8 ms; benchmarks/step_speed.py).
Capturing forward, backward and the optimizer step once as a CUDA graph and replaying it costs
one launch per step: 5.9 ms (4.2 ms with torch.compile's fused kernels inside the graph). Both
step kinds return (loss, correct) as device tensors, so the loop never waits for the GPU.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


class EagerStep:
    def __init__(self, net: nn.Module, opt: torch.optim.Optimizer, schedule: Any, autocast: Any, smoothing: float):
        self.net, self.opt, self.schedule, self.autocast, self.smoothing = net, opt, schedule, autocast, smoothing

    def forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with self.autocast:
            out = self.net(x)  # (B, classes)
            loss = F.cross_entropy(out, y, label_smoothing=self.smoothing)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach().float(), (out.detach().argmax(1) == y).sum()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        result = self.forward_backward(x, y)
        if self.schedule is not None:
            self.schedule.step()
        return result


class GraphedStep(EagerStep):
    """The same step, captured once as a CUDA graph after a few eager warm-up steps and replayed
    with each new batch copied into static input buffers (PyTorch docs, "CUDA Graphs: whole
    network capture"). Needs a fixed batch shape (the loop drops an epoch's last partial batch)
    and an optimizer whose learning rate is a device tensor (schedules update it in place)."""

    warmup_steps = 3

    def __init__(self, *args: Any, batch_size: int) -> None:
        super().__init__(*args)
        self.batch_size = batch_size
        self.calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False
        self.side = torch.cuda.Stream()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        if self.failed or len(y) != self.batch_size:
            return super().__call__(x, y)
        if self.graph is None and self.calls <= self.warmup_steps:
            # warm-up on a side stream, as the docs require before capture (cuBLAS/cuDNN workspaces)
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                result = super().__call__(x, y)
            torch.cuda.current_stream().wait_stream(self.side)
            return result
        if self.graph is None:
            try:
                self._capture(x, y)
            except Exception:  # a model or op that cannot be captured: stay eager, lose only speed
                log.exception("CUDA graph capture failed; training continues eagerly")
                self.failed, self.graph = True, None
                torch.cuda.synchronize()
                return super().__call__(x, y)
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        self.graph.replay()
        if self.schedule is not None:
            self.schedule.step()  # writes the new lr into the tensor the graph reads
        return self.static_loss, self.static_correct

    def _capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.static_x, self.static_y = x.clone(), y.clone()
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)  # gradients are then allocated inside the graph's pool
        with torch.cuda.graph(graph):
            self.static_loss, self.static_correct = self.forward_backward(self.static_x, self.static_y)
        self.graph = graph
