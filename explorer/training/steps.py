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

from .devices import autocast_for, uses_cuda_graph
from .distributed import World
from .lr_range import lr_factor
from .recipe import Recipe

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


# ----- the step a run calls: optimizer, schedule, wrapping ------------------------------------------
def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on convolution and linear weights only: a norm's scale and shift and the biases
    set levels, not capacity, and decaying them only pulls them towards zero (Goyal et al. 2017,
    Sec. 5.1; timm's and torchvision's reference trainers do the same; benchmarks/RESULTS.md)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    keep = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    return groups + ([{"params": keep, "weight_decay": 0.0}] if keep else [])


def make_optimizer(model: nn.Module, recipe: Recipe, device: torch.device, graphed: bool) -> torch.optim.Optimizer:
    fused = {"fused": True} if device.type == "cuda" else {}
    groups = param_groups(model, recipe.weight_decay)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=recipe.lr, **fused)
    momentum = 0.9 if recipe.optimizer == "momentum" else 0.0
    # a CUDA graph replays the lr it was captured with unless the lr lives in device memory
    lr = torch.tensor(recipe.lr, device=device) if graphed else recipe.lr
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0, **fused)


def make_schedule(opt: torch.optim.Optimizer, recipe: Recipe, total_steps: int) -> Any:
    if recipe.schedule == "onecycle" and total_steps >= 3:
        # momentum stays fixed (cycle_momentum=False): a captured graph could not follow it. The warm-up
        # takes a quarter of the steps, and at least two: OneCycleLR divides by zero on a warm-up that
        # ends at step 0 (a run of 4 steps). Fewer than 3 steps: no cycle, the lr stays at its peak.
        warm_up = max(0.25, 2 / total_steps)
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=recipe.lr, total_steps=total_steps, pct_start=warm_up, cycle_momentum=False
        )
    if recipe.range_test:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda index: lr_factor(index, recipe.lr))
    return None


def make_train_step(
    model: nn.Module, recipe: Recipe, device: torch.device, world: World, total_steps: int
) -> EagerStep:
    """The step a run calls once per batch, with its optimizer and schedule: DDP-wrapped under
    torchrun, compiled if the recipe says so, replayed from a CUDA graph where that works."""
    graphed = uses_cuda_graph(device, recipe, world)
    net = model
    if world.distributed:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if recipe.compile:
        net = torch.compile(net)  # shares the parameters: evaluation runs the eager `model`
    opt = make_optimizer(model, recipe, device, graphed)
    schedule = make_schedule(opt, recipe, total_steps)
    autocast = autocast_for(device, recipe.precision, cache=not graphed)
    step_args = (net, opt, schedule, autocast, recipe.label_smoothing)
    return GraphedStep(*step_args, batch_size=recipe.batch_size) if graphed else EagerStep(*step_args)
