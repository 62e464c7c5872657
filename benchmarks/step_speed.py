"""What one training step costs, for each way the engine can run it, on random data in one run.

    python benchmarks/step_speed.py --device cuda --preset d2l-resnet18 --resize 96
    python benchmarks/step_speed.py --device cpu --preset resnet-mini --resize 28 --batch-size 128

Variants (each built by explorer.training.train.make_train_step, as a run builds its step): eager; replayed
from a CUDA graph (GPU only); torch.compile'd, eager and graphed. A variant may carry modifiers
after a slash: `/pytorch-strides` feeds batches made by PyTorch's own .contiguous(channels_last),
which keeps NCHW strides for one-channel images (the engine's batches come from
explorer.training.data.to_channels_last); `/cudnn-benchmark` turns cuDNN autotuning on; `/max-autotune`
has Inductor time Triton templates against cuDNN/cuBLAS for every convolution and matrix product
(minutes of compiling); `/coordinate-descent` has Inductor tune its own kernels' launch
parameters by coordinate descent. Each is timed over
--steps steps after warm-up (capture and compilation included there), three times; the median is
printed with images/s and the speed-up over eager, last. --profile adds the GPU kernels' time per
step by kernel (torch.profiler) for the steps that are not graphed: where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch._inductor.config as inductor_config  # noqa: E402

import explorer  # noqa: E402
from explorer.training.data import DATASETS, to_channels_last  # noqa: E402
from explorer.training.devices import batch_dtype, uses_channels_last  # noqa: E402
from explorer.training.distributed import World  # noqa: E402
from explorer.training.recipe import Recipe  # noqa: E402
from explorer.training.train import adapt_spec, make_train_step  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(spec, recipe: Recipe, device: torch.device):
    model = explorer.build_model(spec).to(device)
    if uses_channels_last(device):
        model = model.to(memory_format=torch.channels_last)
    return make_train_step(model, recipe, device, World(), total_steps=10**6)


def batch(spec, size: int, device: torch.device, dtype: torch.dtype, pytorch_strides: bool):
    # a few different batches, rotated: repeated runs over one buffer would measure the cache
    xs = [torch.randn(size, spec.input.channels, spec.input.height, spec.input.width, device=device) for _ in range(4)]
    if uses_channels_last(device):
        xs = [x.to(dtype) for x in xs]
        xs = [x.contiguous(memory_format=torch.channels_last) if pytorch_strides else to_channels_last(x) for x in xs]
    ys = [torch.randint(0, spec.num_classes, (size,), device=device) for _ in range(4)]
    return list(zip(xs, ys, strict=True))


def time_steps(step, batches, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    """(warm-up seconds, median ms per step of three timed rounds)."""
    start = time.perf_counter()
    for i in range(warmup):
        step(*batches[i % len(batches)])
    _sync(device)
    warm = time.perf_counter() - start
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for i in range(steps):
            loss, _ = step(*batches[i % len(batches)])
        float(loss)  # waits for the device
        rounds.append((time.perf_counter() - start) / steps * 1e3)
    return warm, statistics.median(rounds)


def kernel_table(step, batches, device: torch.device, steps: int = 5, top: int = 8) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(steps):
            step(*batches[i % len(batches)])
        _sync(device)
    rows = [e for e in prof.key_averages() if e.device_type.name == "CUDA" and e.self_device_time_total > 0]
    rows.sort(key=lambda e: -e.self_device_time_total)
    total = sum(e.self_device_time_total for e in rows) / steps / 1e3
    lines = [f"    GPU kernels: {total:.2f} ms per step; largest:"]
    for e in rows[:top]:
        lines.append(f"    {e.self_device_time_total / steps / 1e3:6.3f} ms  {e.key[:90]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="time one training step, each way the engine runs it")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--preset", default="resnet-mini")
    parser.add_argument("--dataset", default="fashion-mnist", choices=list(DATASETS))
    parser.add_argument("--resize", type=int, default=28)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--variants", default="eager,graphed,compiled,compiled+graphed")
    parser.add_argument("--profile", action="store_true", help="GPU kernel time by kernel (CUDA)")
    args = parser.parse_args()

    device = torch.device(args.device)
    spec, _ = adapt_spec(explorer.preset(args.preset), DATASETS[args.dataset], args.resize)
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; torch {torch.__version__}; {args.preset} at {args.resize} px, batch {args.batch_size}")
    base = Recipe(dataset=args.dataset, batch_size=args.batch_size, resize=args.resize, device=args.device)
    dtype = batch_dtype(device)
    results = {}
    for variant in args.variants.split(","):
        kind, *modifiers = variant.split("/")
        if "graphed" in kind and device.type != "cuda":
            continue
        data = batch(spec, args.batch_size, device, dtype, pytorch_strides="pytorch-strides" in modifiers)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = "cudnn-benchmark" in modifiers
        inductor_config.max_autotune = "max-autotune" in modifiers
        inductor_config.coordinate_descent_tuning = "coordinate-descent" in modifiers
        recipe = base.but(compile="compiled" in kind)
        torch._dynamo.reset()  # each variant compiles afresh, under its own Inductor settings
        torch.manual_seed(0)
        step = build(spec, recipe, device)
        if "graphed" not in kind and hasattr(step, "graph"):
            step.failed = True  # a GraphedStep told to stay eager
        warm, ms = time_steps(step, data, device, warmup=5, steps=args.steps)
        results[variant] = ms
        print(
            f"{variant:<34} {ms:7.2f} ms/step  {args.batch_size / ms * 1e3:9.0f} images/s  "
            f"(warm-up incl. capture/compile {warm:.1f} s)",
            flush=True,
        )
        if args.profile and device.type == "cuda" and "graphed" not in kind:
            try:
                print(kernel_table(step, data, device), flush=True)
            except Exception as exc:  # the profiler is a nice-to-have here; the timings above stand
                print(f"    (profiler failed: {type(exc).__name__}: {exc})")
    eager = results.get("eager")
    if eager:
        print("speed-up over eager: " + ", ".join(f"{v} {eager / ms:.2f}x" for v, ms in results.items()))


if __name__ == "__main__":
    main()
