"""How long the Why-residuals page's gradient-flow answer takes (target: 2 s at depth 56, 32 px).

    python benchmarks/gradient_flow_speed.py

Each answer builds the plain and the residual network and runs one forward and backward pass
through each, as the page does on every change (median of 3, no cache).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explorer.inspect.teaching import cifar_spec, gradient_flow  # noqa: E402


def answer_seconds(depth: int, bn: bool, init: str) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        for residual in (False, True):
            gradient_flow(cifar_spec(depth, 16, residual, batch_norm=bn), init)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; width 16, 32 px, batch 16")
    for depth in (20, 56, 110):
        for bn, init in ((False, "xavier"), (True, "torchvision")):
            target = "  (target 2 s)" if depth == 56 else ""
            seconds = answer_seconds(depth, bn, init)
            print(f"depth {depth:>3}, BN {'on ' if bn else 'off'}, {init:<11}: {seconds:.2f} s{target}")


if __name__ == "__main__":
    main()
