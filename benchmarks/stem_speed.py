"""The stem of d2l-resnet18 on one-channel images, alone: what it costs and what it could cost.

    python -m benchmarks.stem_speed --device cuda
    python -m benchmarks.stem_speed --quick      # CPU, batch 16 at 28 px, 5 repetitions: about a second

On the GPU the whole training step is ~4.2 ms (benchmarks/RESULTS.md); the largest kernels left
after torch.compile look like the first convolution's (7x7, stride 2, one input channel: cuDNN
pads the channel to eight and uses an Ampere-era kernel). This times, at batch 256 and 96 px in
bf16 channels_last, forward plus weight gradient (the input needs no gradient) of:
(a) cuDNN's convolution (F.conv2d); (b) explorer.arch.stem_conv.patch_conv2d, the same convolution as
gathered patches times the weight matrix, which the model runs on GPUs (the same function; bf16
rounding differs); and max-pooling forward + backward for scale. The
relative difference of (b) against (a) is printed, so a faster version is also a correct one. Last:
`ratio: <N>x (F.conv2d / patches + matmul, forward + weight gradient)`: above 1, the patches are faster.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import parse_args, print_figure
from explorer.arch.stem_conv import patch_conv2d
from explorer.training.data import to_channels_last
from explorer.training.devices import batch_dtype


def conv_cudnn(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, w, b, stride=2, padding=3)


def conv_patches(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return patch_conv2d(x, w, b, (2, 2), (3, 3))


def timed(fn: Callable[[], None], device: torch.device, reps: int) -> float:
    for _ in range(5):
        fn()
    rounds = []
    for _ in range(3):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        rounds.append((time.perf_counter() - start) / reps * 1e3)
    return statistics.median(rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the one-channel stem convolution, alone")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--reps", type=int, default=50, help="calls per timed round (three rounds)")
    args = parse_args(parser, argv, quick={"device": "cpu", "batch_size": 16, "size": 28, "reps": 5})
    device = torch.device(args.device)
    dtype = batch_dtype(device)
    torch.manual_seed(0)
    x = to_channels_last(torch.randn(args.batch_size, 1, args.size, args.size, device=device, dtype=dtype))
    w = to_channels_last(torch.randn(64, 1, 7, 7, device=device, dtype=dtype) * 0.1).requires_grad_()
    b = torch.zeros(64, device=device, dtype=dtype, requires_grad=True)
    grad = None

    def step(conv):
        def run():
            nonlocal grad
            out = conv(x, w, b)
            if grad is None or grad.shape != out.shape:
                grad = to_channels_last(torch.randn_like(out))
            out.backward(grad)
            w.grad = b.grad = None

        return run

    ref = conv_cudnn(
        x.double() if device.type == "cpu" else x.float(),
        w.double() if device.type == "cpu" else w.float(),
        b.double() if device.type == "cpu" else b.float(),
    )
    ms = {}
    for name, conv in (("F.conv2d (cuDNN)", conv_cudnn), ("patches + matmul", conv_patches)):
        with torch.no_grad():
            out = conv(x, w, b)
            err = ((out.to(ref.dtype) - ref).norm() / ref.norm()).item()
        ms[name] = timed(step(conv), device, args.reps)
        print(f"{name:<22} fwd+wgrad {ms[name]:7.3f} ms   rel. error {err:.1e}  strides {out.stride()}", flush=True)
    y = conv_cudnn(x, w, b).detach().requires_grad_()

    def pool():
        out = F.max_pool2d(y, 3, 2, 1)
        out.backward(torch.ones_like(out))
        y.grad = None

    print(f"{'max-pool 3x3/2':<22} fwd+bwd   {timed(pool, device, args.reps):7.3f} ms")
    if device.type == "cuda":
        for name, conv in (("cudnn", conv_cudnn), ("patches", conv_patches)):
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(5):
                    step(conv)()
                torch.cuda.synchronize()
            rows = [e for e in prof.key_averages() if e.self_device_time_total > 0]
            rows.sort(key=lambda e: -e.self_device_time_total)
            for e in rows[:5]:
                print(f"  {name}: {e.self_device_time_total / 5 / 1e3:6.3f} ms  {e.key[:80]}")
    ratio = ms["F.conv2d (cuDNN)"] / ms["patches + matmul"]
    print_figure("ratio", ratio, "x", "F.conv2d / patches + matmul, forward + weight gradient")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
