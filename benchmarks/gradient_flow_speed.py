"""How long the Why-residuals page's gradient-flow answer takes (target: 2 s at depth 56, 32 px).

    python -m benchmarks.gradient_flow_speed
    python -m benchmarks.gradient_flow_speed --quick     # depth 20, one answer each: about a second

Each answer builds the plain and the residual network and measures each as the page does on every
change (median of 3, no cache): one forward and backward pass on a random batch (the signal and the
weight gradients), then the input gradients along a line of 16 inputs (their correlation). Last:
`slowest answer: <N> s (depth <d>, BN on|off, <init> init; target 2 s at depth 56)`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.common import parse_args, print_figure
from explorer.inspect.gradient_flow import measure_flow
from explorer.inspect.teaching import cifar_spec


def answer_seconds(depth: int, bn: bool, init: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for residual in (False, True):
            measure_flow(cifar_spec(depth, 16, residual, batch_norm=bn), init)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 56, 110])
    parser.add_argument("--repeats", type=int, default=3)
    args = parse_args(parser, argv, quick={"depths": [20], "repeats": 1})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; width 16, 32 px, batch 16")
    slowest = (0.0, "")
    for depth in args.depths:
        for bn, init in ((False, "xavier"), (True, "torchvision")):
            target = "  (target 2 s)" if depth == 56 else ""
            seconds = answer_seconds(depth, bn, init, args.repeats)
            print(f"depth {depth:>3}, BN {'on ' if bn else 'off'}, {init:<11}: {seconds:.2f} s{target}")
            slowest = max(slowest, (seconds, f"depth {depth}, BN {'on' if bn else 'off'}, {init} init"))
    print_figure("slowest answer", slowest[0], " s", f"{slowest[1]}; target 2 s at depth 56")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
