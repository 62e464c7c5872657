"""The Train page's twin demonstration as the page runs it: a network and its plain twin, side by side
in the job registry's two workers, on the same images in the same order.

    python -m benchmarks.twin_demo                                  # the demo the page offers on a CPU
    python -m benchmarks.twin_demo --depth 44 --epochs 5 --resize 16 --limit 4000   # a candidate
    python -m benchmarks.twin_demo --quick     # digits, 256 images, 1 epoch: a few seconds

Prints both runs' final training loss and test accuracy, the wall time from submitting the pair to
the second one ending, each worker's CPU time and the machine's load. Last: `twin: <N>x (plain twin /
network final training loss; test accuracy <a> against <b>; <S> s)`.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from benchmarks.common import cpu_seconds, machine_load, parse_args, print_figure
from explorer.hall.settings import Settings
from explorer.inspect.teaching import TWIN_DEMO_RECIPE, TWIN_DEMO_SPEC, cifar_spec, twin_runs
from explorer.training.jobs import JobRegistry
from explorer.training.runs import RunStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=None, help="a CIFAR ResNet of this depth (default: the demo's)")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--data-dir", default=None)
    for option in ("limit", "test-limit", "epochs", "resize", "batch-size"):
        parser.add_argument(f"--{option}", type=int, default=None, help="default: the demo's")
    quick = {"dataset": "digits", "limit": 256, "test_limit": 100, "epochs": 1, "resize": 8, "depth": 8}
    args = parse_args(parser, argv, quick=quick)
    spec = TWIN_DEMO_SPEC if args.depth is None else cifar_spec(args.depth, args.width)
    changes = {k: getattr(args, k) for k in ("dataset", "limit", "test_limit", "epochs", "resize", "batch_size")}
    recipe = dataclasses.replace(TWIN_DEMO_RECIPE, device="cpu", **{k: v for k, v in changes.items() if v is not None})
    depth = 2 + 2 * sum(s.blocks for s in spec.stages)
    size = f" at {recipe.resize} px" if recipe.resize else ""
    data = f"{recipe.dataset}, {recipe.train_images:,} images{size}, {recipe.epochs} epochs"
    print(f"resnet-{depth}, width {spec.stem.width}; {data}; load {machine_load()}")
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(Path(home) / "runs.sqlite"), data_dir=args.data_dir, settings=Settings())
        try:
            jobs.speed("cpu", wait=180)
            start = time.perf_counter()
            ids = [s.run_id for s in jobs.submit_all(twin_runs(f"resnet-{depth}", spec, recipe), "twin")]
            for run_id in ids:
                jobs.wait(run_id)
            seconds = time.perf_counter() - start
            cpu = cpu_seconds([slot.pid for slot in jobs.slots["cpu"]])
            records = [jobs.store.get(run_id) for run_id in ids]
            epochs = [jobs.store.epochs(run_id) for run_id in ids]
        finally:
            jobs.close()
    for record, rows in zip(records, epochs, strict=True):
        if record.status != "completed":
            raise SystemExit(f"{record.name} ended {record.status}: {record.message}")
        print(f"{record.name:28s} {record.duration:6.1f} s  train loss {[round(e['train_loss'], 3) for e in rows]}"
              f"  test accuracy {[round(e['test_acc'], 4) for e in rows]}")  # fmt: skip
    print(f"wall time from submitting the pair: {seconds:.1f} s; CPU time of each worker: "
          f"{', '.join(f'{c:.1f} s' for c in cpu)}; load after {machine_load()}")  # fmt: skip
    net, twin = epochs[0][-1], epochs[1][-1]
    detail = f"plain twin / network final training loss; test accuracy {twin['test_acc']:.4f} against "
    print_figure("twin", twin["train_loss"] / net["train_loss"], "x", f"{detail}{net['test_acc']:.4f}; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
