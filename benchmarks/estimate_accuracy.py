"""The arithmetic estimate of a training step (explorer.training.estimate: the plan and a speed measured
once per device) against the same step timed, for networks of several shapes and sizes.

    python -m benchmarks.estimate_accuracy [--device cpu|cuda]
    python -m benchmarks.estimate_accuracy --quick       # resnet-mini at 8 px only: a few seconds

Prints each network's time per image both ways and their ratio (estimated / timed), then last
`furthest from 1: <N>x (estimated / timed, range <lo>x to <hi>x over <k> networks)`.
"""

from __future__ import annotations

import argparse
import math

import torch

import explorer
from benchmarks.common import number, parse_args, print_figure
from explorer.training.estimate import _timed_step, measure_speed
from explorer.training.worker import set_process_state

# preset:side:batch — tiny to ResNet-50, narrow and wide, shallow and deep
CASES = [
    "resnet-mini:8:64",
    "resnet-mini:28:128",
    "resnet20:32:128",
    "resnet110:32:128",
    "d2l-resnet18:28:256",
    "d2l-resnet18:96:32",
    "resnet18:64:32",
    "resnet50:224:8",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cases", nargs="+", default=CASES, metavar="PRESET:SIDE:BATCH")
    args = parse_args(parser, argv, quick={"cases": CASES[:1]})
    set_process_state(args.device, low_priority=False)
    device = torch.device(args.device)
    speed = measure_speed(device)
    narrow, wide = 1 / speed.narrow_seconds_per_mac / 1e9, 1 / speed.wide_seconds_per_mac / 1e9
    per_layer = speed.seconds_per_layer * 1e6
    print(f"{speed.device}: narrow {narrow:.1f} GMAC/s, wide {wide:.1f}, {per_layer:.0f} us a layer")
    ratios = []
    for case in args.cases:
        name, side, batch = case.split(":")
        side, batch = int(side), int(batch)
        spec = explorer.preset(name)
        spec = spec.with_input(spec.input.channels, side, side)
        timed = _timed_step(spec, batch, device) / batch
        estimated = speed.step_seconds(explorer.plan_network(spec), batch) / batch
        ratios.append(estimated / timed)
        print(f"{name:>13} {side:>3} px, batch {batch:>3}: timed {timed * 1e3:8.3f} ms/image, "
              f"estimated {estimated * 1e3:8.3f} ms/image, ratio {ratios[-1]:.2f}")  # fmt: skip
    worst = max(ratios, key=lambda r: abs(math.log(r)))
    span = f"range {number(min(ratios))}x to {number(max(ratios))}x over {len(ratios)} networks"
    print_figure("furthest from 1", worst, "x", f"estimated / timed, {span}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
