"""What one training step costs, for each way the engine can run it, on random data in one run.

    python -m benchmarks.step_speed --device cuda --preset d2l-resnet18 --resize 96
    python -m benchmarks.step_speed --device cpu --preset resnet-mini --resize 28 --batch-size 128
    python -m benchmarks.step_speed --quick      # CPU, batch 32, eager both ways, 2 steps: a few seconds

Variants (each built by explorer.training.train.make_train_step, as a run builds its step): eager; replayed
from a CUDA graph (GPU only); torch.compile'd, eager and graphed. A variant may carry modifiers
after a slash: `/pytorch-strides` feeds batches made by PyTorch's own .contiguous(channels_last),
which keeps NCHW strides for one-channel images (the engine's batches come from
explorer.training.data.to_channels_last); `/cudnn-benchmark` turns cuDNN autotuning on; `/max-autotune`
has Inductor time Triton templates against cuDNN/cuBLAS for every convolution and matrix product
(minutes of compiling); `/coordinate-descent` has Inductor tune its own kernels' launch
parameters by coordinate descent. Each is timed over
--steps steps after warm-up (capture and compilation included there), three times; the median is
printed with images/s. --profile adds the GPU kernels' time per step by kernel (torch.profiler) for
the steps that are not graphed: where the time goes. Last, the fastest variant against eager (the
first variant when eager is not among them):
`speed-up over eager: <N>x (fastest: <variant>; <variant> <N>x, ...)`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch._inductor.config as inductor_config
from torch.profiler import ProfilerActivity, profile

import explorer
from benchmarks.common import number, parse_args, print_figure
from explorer.arch.spec import ResNetSpec
from explorer.training.data import DATASETS, to_channels_last
from explorer.training.devices import batch_dtype, uses_channels_last
from explorer.training.distributed import World
from explorer.training.recipe import Recipe, adapt_spec
from explorer.training.steps import EagerStep, make_train_step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(spec: ResNetSpec, recipe: Recipe, device: torch.device) -> EagerStep:
    model = explorer.build_model(spec).to(device)
    if uses_channels_last(device):
        model = model.to(memory_format=torch.channels_last)
    return make_train_step(model, recipe, device, World(), total_steps=10**6)


def batch(
    spec: ResNetSpec, size: int, device: torch.device, dtype: torch.dtype, pytorch_strides: bool
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    # a few different batches, rotated: repeated runs over one buffer would measure the cache
    xs = [torch.randn(size, spec.input.channels, spec.input.height, spec.input.width, device=device) for _ in range(4)]
    if uses_channels_last(device):
        xs = [x.to(dtype) for x in xs]
        xs = [x.contiguous(memory_format=torch.channels_last) if pytorch_strides else to_channels_last(x) for x in xs]
    ys = [torch.randint(0, spec.num_classes, (size,), device=device) for _ in range(4)]
    return list(zip(xs, ys, strict=True))


def time_steps(step: EagerStep, batches: list, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
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


def kernel_table(step: EagerStep, batches: list, device: torch.device, steps: int = 5, top: int = 8) -> str:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time one training step, each way the engine runs it")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--preset", default="resnet-mini")
    parser.add_argument("--dataset", default="fashion-mnist", choices=list(DATASETS))
    parser.add_argument("--resize", type=int, default=28)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=5, help="steps before the timed rounds")
    parser.add_argument("--variants", default="eager,graphed,compiled,compiled+graphed")
    parser.add_argument("--profile", action="store_true", help="GPU kernel time by kernel (CUDA)")
    quick = {"device": "cpu", "batch_size": 32, "steps": 2, "warmup": 1, "variants": "eager,eager/pytorch-strides"}
    args = parse_args(parser, argv, quick)

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
        warm, ms = time_steps(step, data, device, warmup=args.warmup, steps=args.steps)
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
    if not results:
        raise SystemExit(f"none of the variants {args.variants} runs on {device.type}")
    base = results.get("eager", next(iter(results.values())))
    fastest = min(results, key=results.get)
    each = ", ".join(f"{v} {number(base / ms)}x" for v, ms in results.items())
    print_figure("speed-up over eager", base / results[fastest], "x", f"fastest: {fastest}; {each}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
