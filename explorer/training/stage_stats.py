"""Inside training, per stage: the gradient's norm, the weights' norm, and how far one step moves
the weights against their size (the update-to-weight ratio).

He et al. (2016) argue that shortcuts let the gradient reach the early layers of a deep network;
here that is measured while a run trains, stage by stage, as TensorBoard's histograms let one see.
An update-to-weight ratio near 1e-3 is the usual sign of a healthy learning rate (Karpathy, CS231n
"Neural Networks Part 3": far below, learning crawls; far above, it is unstable).

Read at the trainer's logging steps only (every `log_every` steps), where the host waits for the
device anyway: the step before is watched (weights kept, the gradients it leaves read after it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

STEM, HEAD = "stem", "head"


@dataclass(frozen=True)
class StageStats:
    stage: str  # stem, layer1.., head
    grad_norm: float  # L2 norm of the step's gradient over the stage's parameters
    weight_norm: float  # L2 norm of the stage's parameters after the step
    update_ratio: float  # ||w after - w before|| / ||w before||: the step's relative size


def stage_of(name: str) -> str:
    """The stage a parameter belongs to, by torchvision's module names: layerN.*, fc.* (head), the
    rest (conv1, bn1, the deep stem's convs, a pre-activation network's final norm) as the stem."""
    first = name.split(".", 1)[0]
    if first.startswith("layer"):
        return first
    return HEAD if first in ("fc", "head") else STEM


class StageWatch:
    """Watches one training step of `model`: call before() just before it, after() right after."""

    def __init__(self, model: nn.Module) -> None:
        groups: dict[str, list[nn.Parameter]] = {}
        for name, param in model.named_parameters():
            if param.requires_grad:
                groups.setdefault(stage_of(name), []).append(param)
        order = [STEM, *sorted((s for s in groups if s.startswith("layer")), key=lambda s: int(s[5:])), HEAD]
        self.groups = [(stage, groups[stage]) for stage in order if stage in groups]
        self.saved: list[list[torch.Tensor]] | None = None

    @torch.no_grad()
    def before(self) -> None:
        self.saved = [[p.detach().clone() for p in params] for _, params in self.groups]

    @torch.no_grad()
    def after(self) -> tuple[StageStats, ...]:
        """The watched step's numbers per stage (one wait for the device, for all of them)."""
        if self.saved is None:
            raise RuntimeError("after() without before()")
        rows = []
        for (_, params), saved in zip(self.groups, self.saved, strict=True):
            grads = [p.grad for p in params if p.grad is not None]
            update = [p - s for p, s in zip(params, saved, strict=True)]
            rows.append(torch.stack([_norm(group, saved[0]) for group in (grads, params, update, saved)]))
        self.saved = None
        values = torch.stack(rows).cpu().tolist()
        return tuple(
            StageStats(stage, grad, weight, update / before if before > 0 else 0.0)
            for (stage, _), (grad, weight, update, before) in zip(self.groups, values, strict=True)
        )


def _norm(tensors: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """The L2 norm of several tensors taken as one vector, in float32, on `like`'s device (read
    back once for every stage, in after())."""
    if not tensors:
        return torch.zeros((), device=like.device)
    norms = torch._foreach_norm([t.detach().float() for t in tensors])
    return torch.linalg.vector_norm(torch.stack(norms))
