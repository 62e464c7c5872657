"""analyze(spec) against torchinfo.summary on the same network, in one run.

    python -m benchmarks.analysis_speed [--preset resnet152] [--repeats 5]
    python -m benchmarks.analysis_speed --quick          # resnet-mini, 2 repeats: about a second

torchinfo gets an already built model (its forward pass is what it costs); analyze gets only the
spec, as the Design page does on every rerun (uncached here). Prints both medians, and last
`ratio: <N>x (torchinfo.summary / explorer.analyze, <preset>)`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torchinfo

import explorer
from benchmarks.common import parse_args, print_figure


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="resnet152")
    parser.add_argument("--repeats", type=int, default=5)
    args = parse_args(parser, argv, quick={"preset": "resnet-mini", "repeats": 2})
    spec = explorer.preset(args.preset)
    size = (1, spec.input.channels, spec.input.height, spec.input.width)
    model = explorer.build_model(spec).eval()
    info = torchinfo.summary(model, input_size=size, verbose=0)  # warm-up, and the cross-check
    a = explorer.analyze(spec)
    assert info.total_params == a.total_params, (info.total_params, a.total_params)

    ours = median_seconds(lambda: explorer.analyze(spec), max(args.repeats, 50))
    theirs = median_seconds(lambda: torchinfo.summary(model, input_size=size, verbose=0), args.repeats)
    print(f"network:            {args.preset} at {'x'.join(map(str, size[1:]))}, {a.total_params:,} params")
    print(f"machine:            {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"torchinfo.summary:  {theirs * 1000:9.1f} ms (median of {args.repeats})")
    print(f"explorer.analyze:   {ours * 1000:9.3f} ms (median of {max(args.repeats, 50)})")
    print_figure("ratio", theirs / ours, "x", f"torchinfo.summary / explorer.analyze, {args.preset}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
