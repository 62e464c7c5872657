"""The arithmetic estimate of training (explorer.training.estimate: the plan and a speed measured once per
device) against measurement: one step of networks of several shapes and sizes, then the runs the pages
launch on a CPU, trained in the job registry's workers, alone and two at a time.

    python -m benchmarks.estimate_accuracy [--device cpu|cuda] [--data-dir DIR]
    python -m benchmarks.estimate_accuracy --quick       # resnet-mini at 8 px, two tiny runs: seconds
    python -m benchmarks.estimate_accuracy --data-dir DIR --only twin degradation   # some pages' runs

Prints each network's time per image both ways and their ratio (estimated / timed), then each page's
run: its estimate, its measured duration (from its start to its end, as the history shows it), their
ratio and whether another run shared the device; then last `furthest from 1: <N>x (estimated /
measured, runs <lo>x to <hi>x over <k> runs; steps <lo>x to <hi>x over <m> networks)`.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
from pathlib import Path

import torch

import explorer
from benchmarks.common import cpu_seconds, machine_load, number, parse_args, print_figure
from explorer.hall.budget import training_cost
from explorer.hall.challenge import BATCH_SIZE
from explorer.hall.settings import Settings
from explorer.inspect.teaching import (
    CPU_DEGRADATION,
    SWEEP_LRS,
    TWIN_DEMO_RECIPE,
    TWIN_DEMO_SPEC,
    bn_range_test_runs,
    cifar_spec,
    degradation_runs,
    lr_sweep_runs,
    twin_runs,
)
from explorer.training.estimate import _timed_step, measure_speed
from explorer.training.jobs import JobRegistry
from explorer.training.recipe import CPU_RECIPE, Recipe
from explorer.training.runs import RunStore
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
MINI = explorer.preset("resnet-mini")
CHALLENGE = Recipe(
    dataset="fashion-mnist",
    batch_size=BATCH_SIZE,
    lr=0.1,
    optimizer="momentum",
    schedule="onecycle",
    weight_decay=5e-4,
    steps=300,
)  # fmt: skip - the challenge page's default task


def page_runs(quick: bool) -> list[tuple[str, list]]:
    """(what, runs) for each thing a page starts on a CPU, in the order the benchmark submits them."""
    if quick:
        tiny = Recipe(dataset="digits", epochs=1, batch_size=64, limit=256, optimizer="momentum")
        return [("one run alone", [("resnet-mini", MINI, tiny)]), ("a twin", twin_runs("resnet-mini", MINI, tiny))]
    return [
        ("Train: the CPU recipe, alone", [("resnet-mini", MINI, CPU_RECIPE)]),
        ("Challenge: an entry, alone", [("resnet-mini entry", MINI, CHALLENGE)]),
        ("Train: the twin demo", twin_runs("resnet-32", TWIN_DEMO_SPEC, TWIN_DEMO_RECIPE)),
        ("Why residuals: degradation", degradation_runs(CPU_DEGRADATION)),
        ("Why residuals: lr sweep", lr_sweep_runs(cifar_spec(20, 8), SWEEP_LRS, "fashion-mnist")),
        ("Why residuals: range tests", bn_range_test_runs(cifar_spec(20, 8), "fashion-mnist")),
        ("Train: the CPU recipe beside another", [("resnet-mini", MINI, CPU_RECIPE)] * 2),
    ]


def steps_part(device: torch.device, cases: list[str]) -> list[float]:
    speed = measure_speed(device)
    narrow, wide = 1 / speed.narrow_seconds_per_mac / 1e9, 1 / speed.wide_seconds_per_mac / 1e9
    print(f"{speed.device}, {torch.get_num_threads()} thread(s): narrow {narrow:.1f} GMAC/s, wide {wide:.1f}, "
          f"{speed.seconds_per_layer * 1e6:.0f} us a layer")  # fmt: skip
    ratios = []
    for case in cases:
        name, side, batch = case.split(":")
        side, batch = int(side), int(batch)
        spec = explorer.preset(name)
        spec = spec.with_input(spec.input.channels, side, side)
        timed = _timed_step(spec, batch, device) / batch
        estimated = speed.step_seconds(explorer.plan_network(spec), batch) / batch
        ratios.append(estimated / timed)
        print(f"{name:>13} {side:>3} px, batch {batch:>3}: timed {timed * 1e3:8.3f} ms/image, "
              f"estimated {estimated * 1e3:8.3f} ms/image, ratio {ratios[-1]:.2f}", flush=True)  # fmt: skip
    return ratios


class _CpuByRun:
    """Each run's CPU time, read off its worker every half second while it trains: on a machine other
    work loads, what the run would take on a quiet one (a worker has one thread)."""

    def __init__(self, jobs: JobRegistry) -> None:
        self.jobs, self.seconds, self.stopped = jobs, {}, threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        last: dict[int, float] = {}
        while not self.stopped.wait(0.5):
            slots = self.jobs.slots.get("cpu", [])
            for slot, used in zip(slots, cpu_seconds([slot.pid for slot in slots]), strict=True):
                if slot.job_id is not None and slot.pid in last:
                    self.seconds[slot.job_id] = self.seconds.get(slot.job_id, 0.0) + used - last[slot.pid]
                last[slot.pid] = used

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()


def runs_part(quick: bool, data_dir: str | None, only: list[str] | None = None) -> list[float]:
    """Each page's runs through a registry (two workers), one thing at a time (those whose
    description contains one of `only`'s words, if given)."""
    ratios = []
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(Path(home) / "runs.sqlite"), data_dir=data_dir, settings=Settings())
        cpu = _CpuByRun(jobs)
        try:
            jobs.speed("cpu", wait=180)
            for what, runs in page_runs(quick):
                if only and not any(word.lower() in what.lower() for word in only):
                    continue
                speed = jobs.speed("cpu")  # as the page shows it at the moment it starts them
                estimates = [training_cost(spec, recipe, speed).estimate.run_seconds(recipe.range_test)
                             for _, spec, recipe in runs]  # fmt: skip
                print(f"{what} (load {machine_load()}; the probe's speed corrected by "
                      f"{jobs.calibration_factor('cpu'):.2f})", flush=True)  # fmt: skip
                submitted = jobs.submit_all(runs, what)
                for s in submitted:
                    jobs.wait(s.run_id)
                for estimated, s in zip(estimates, submitted, strict=True):
                    run = jobs.store.get(s.run_id)
                    ratios.append(estimated / run.duration)
                    print(f"  {run.name[:26]:26s} estimated {estimated:6.1f} s, measured {run.duration:6.1f} s "
                          f"(CPU {cpu.seconds.get(s.run_id, 0.0):6.1f} s), ratio {ratios[-1]:.2f}"
                          f"{', beside another' if len(runs) > 1 else ''}, {run.status}", flush=True)  # fmt: skip
        finally:
            cpu.close()
            jobs.close()
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cases", nargs="+", default=CASES, metavar="PRESET:SIDE:BATCH")
    parser.add_argument("--data-dir", default=None, help="where Fashion-MNIST is (the pages' runs)")
    parser.add_argument("--no-runs", action="store_true", help="the steps only")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="WORD",
        help="the pages' runs whose "
        "description has one of these words (twin, degradation, sweep, range, entry, recipe)",
    )
    args = parse_args(parser, argv, quick={"cases": CASES[:1]})
    print(f"load before: {machine_load()}")
    set_process_state(args.device, low_priority=False, threads=1 if args.device == "cpu" else None)
    steps = steps_part(torch.device(args.device), args.cases)  # one thread: as a worker of two on two cores
    runs = [] if args.no_runs or args.device != "cpu" else runs_part(args.quick, args.data_dir, args.only)
    print(f"load after: {machine_load()}")
    worst = max(runs or steps, key=lambda r: abs(math.log(r)))
    span = f"steps {number(min(steps))}x to {number(max(steps))}x over {len(steps)} networks"
    if runs:
        span = f"runs {number(min(runs))}x to {number(max(runs))}x over {len(runs)} runs; {span}"
    print_figure("furthest from 1", worst, "x", f"estimated / measured, {span}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
