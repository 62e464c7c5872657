"""Which device, precision and memory layout a training run uses, decided in one place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from .distributed import World
from .recipe import Recipe, RecipeError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RecipeError("device", "cuda was asked for but no CUDA GPU is visible; use auto or cpu")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: oneDNN then runs bf16 convolutions at twice the fp32 rate."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_for(device: torch.device, precision: str, cache: bool = True):
    """The autocast context a step runs under (bf16 or none) for this device and setting.
    cache=False for CUDA graphs: the cast-weight cache must not outlive one replay."""
    if precision == "auto":
        native = {"cuda": torch.cuda.is_available() and torch.cuda.is_bf16_supported(), "cpu": cpu_has_native_bf16()}
        precision = "bf16" if native.get(device.type, False) else "fp32"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16", cache_enabled=cache)


def batch_dtype(device: torch.device) -> torch.dtype:
    """The dtype batches are made in on the device: bf16 on CUDA, where autocast computes in it
    anyway and half the bytes move; fp32 elsewhere."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def uses_channels_last(device: torch.device) -> bool:
    # NHWC lets cuDNN use tensor cores without transposes, and oneDNN's CPU convolutions run
    # about 1.5x faster on it (benchmarks/RESULTS.md); MPS gains nothing from it.
    return device.type in ("cuda", "cpu")


def uses_cuda_graph(device: torch.device, recipe: Recipe, world: World) -> bool:
    """CUDA graphs for single-process SGD runs on a GPU (the fused SGD kernel reads a tensor lr)."""
    return device.type == "cuda" and not world.distributed and recipe.optimizer in ("sgd", "momentum")


def check_compile_possible(device: torch.device) -> None:
    """torch.compile needs Triton on GPUs and a C++ compiler on CPUs: without them the run would
    fail deep inside Inductor, so say it up front, naming the setting."""
    if device.type == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            raise RecipeError("compile", "torch.compile needs Triton on this GPU (pip install triton); turn it off")
    elif device.type == "cpu":
        compilers = (os.environ.get("CXX") or "g++", "clang++", "cl")
        if not any(shutil.which(c) for c in compilers):
            raise RecipeError("compile", "torch.compile needs a C++ compiler (g++ or clang++) on CPUs; turn it off")
    else:
        raise RecipeError("compile", f"torch.compile is not supported on {device.type} here; turn it off")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
