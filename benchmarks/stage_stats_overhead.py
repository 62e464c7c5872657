"""What reading the per-stage gradients and updates costs a run (explorer/training/stage_stats.py).

    python -m benchmarks.stage_stats_overhead [--preset resnet-mini] [--batch 128] [--log-every 25]
    python -m benchmarks.stage_stats_overhead --quick    # batch 16, 2 repeats: about a second

Times, on this machine's CPU (or GPU), one eager training step of the network (forward, backward,
SGD with momentum) and one watched step's extra work (keeping the weights before it, then the
norms after it). The trainer watches one step in every `log_every`, so the cost per step is the
watch's time divided by log_every. Last:
`overhead: <N>% (of a training step, watched every <log_every>: <preset>, batch <batch>)`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from benchmarks.common import parse_args, print_figure
from explorer import build_model, preset
from explorer.training.stage_stats import StageWatch


def _median_seconds(work: Callable[[], None], repeats: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="resnet-mini")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=10)
    args = parse_args(parser, argv, quick={"batch": 16, "repeats": 2})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    spec = preset(args.preset)
    model = build_model(spec).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    i = spec.input
    x = torch.randn(args.batch, i.channels, i.height, i.width, device=device)
    y = torch.randint(0, spec.num_classes, (args.batch,), device=device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    watch = StageWatch(model)
    step()  # gradients exist for the watch to read

    def watched() -> None:
        watch.before()
        watch.after()

    step_s = _median_seconds(step, args.repeats)
    watch_s = _median_seconds(watched, args.repeats)
    params = sum(p.numel() for p in model.parameters())
    print(f"network:            {args.preset} ({params:,} parameters), batch {args.batch}, on {device}")
    print(f"training step:      {step_s * 1000:.1f} ms (median of {args.repeats})")
    print(f"watch of one step:  {watch_s * 1000:.1f} ms (weights kept, then 4 norms per stage)")
    print_figure(
        "overhead",
        100 * watch_s / args.log_every / step_s,
        "%",
        f"of a training step, watched every {args.log_every}: {args.preset}, batch {args.batch}",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
