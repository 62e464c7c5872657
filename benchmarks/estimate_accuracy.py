"""The arithmetic estimate of a training step (explorer.training.estimate: the plan and a speed measured
once per device) against the same step timed, for networks of several shapes and sizes.

    python benchmarks/estimate_accuracy.py [--device cpu|cuda]

Prints each network's time per image both ways and their ratio (estimated / timed), then the range
of the ratios last.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import explorer  # noqa: E402
from explorer.training.estimate import _timed_step, measure_speed  # noqa: E402
from explorer.training.worker import set_process_state  # noqa: E402

# (preset, input side, batch): tiny to ResNet-50, narrow and wide, shallow and deep
CASES = [
    ("resnet-mini", 8, 64),
    ("resnet-mini", 28, 128),
    ("resnet20", 32, 128),
    ("resnet110", 32, 128),
    ("d2l-resnet18", 28, 256),
    ("d2l-resnet18", 96, 32),
    ("resnet18", 64, 32),
    ("resnet50", 224, 8),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    set_process_state(args.device, low_priority=False)
    device = torch.device(args.device)
    speed = measure_speed(device)
    narrow, wide = 1 / speed.narrow_seconds_per_mac / 1e9, 1 / speed.wide_seconds_per_mac / 1e9
    per_layer = speed.seconds_per_layer * 1e6
    print(f"{speed.device}: narrow {narrow:.1f} GMAC/s, wide {wide:.1f}, {per_layer:.0f} us a layer")
    ratios = []
    for name, side, batch in CASES:
        spec = explorer.preset(name)
        spec = spec.with_input(spec.input.channels, side, side)
        timed = _timed_step(spec, batch, device) / batch
        estimated = speed.step_seconds(explorer.plan_network(spec), batch) / batch
        ratios.append(estimated / timed)
        print(f"{name:>13} {side:>3} px, batch {batch:>3}: timed {timed * 1e3:8.3f} ms/image, "
              f"estimated {estimated * 1e3:8.3f} ms/image, ratio {ratios[-1]:.2f}")  # fmt: skip
    print(f"estimated / timed: {min(ratios):.2f}x to {max(ratios):.2f}x")


if __name__ == "__main__":
    main()
