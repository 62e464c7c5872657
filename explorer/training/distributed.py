"""PyTorch's own distributed engine, when launched by torchrun (WORLD_SIZE > 1).

`torchrun --nproc_per_node=N -m explorer train ...`: each process trains a DistributedDataParallel
replica on its shard of the data; metrics are summed across processes; rank 0 alone reports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def sum(self, *values: torch.Tensor) -> list[torch.Tensor]:
        """Sum tensors over all processes (a no-op for one process): one collective for all."""
        if not self.distributed:
            return list(values)
        flat = torch.stack([v.detach().double().reshape(()) for v in values])
        dist.all_reduce(flat)
        return list(flat.unbind())

    def sum_tensor(self, value: torch.Tensor) -> torch.Tensor:
        if self.distributed:
            dist.all_reduce(value)
        return value


def world_from_env(device_kind: str) -> World:
    """Join the process group torchrun set up, or run alone."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def leave(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
