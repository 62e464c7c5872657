"""The degradation experiment (He et al. 2016, Fig. 1) as the Why residuals? page runs it: plain-20/56
and resnet-20/56 with one recipe, through the job registry's worker processes (two at a time).

    python -m benchmarks.degradation                               # the page's version for this machine
    python -m benchmarks.degradation --width 8 --limit 4000 --resize 16 --epochs 8   # a candidate
    python -m benchmarks.degradation --full --json explorer/inspect/degradation_recorded.json
    python -m benchmarks.degradation --quick     # plain/resnet-8 and -14 on 256 digits, 1 epoch: seconds

Prints each network's final training loss and error, the wall time from submitting the four runs to
the last one ending, the machine's load before and after, and whether the paper's result shows:
plain-56 ends with a higher training loss than plain-20, and resnet-56 with one no higher than
resnet-20's. Last: `degradation: <N>x (plain-56 / plain-20 final training loss; resnet-56 /
resnet-20: <M>x; <S> s)`. --json writes the recorded-run file the page shows beside its live one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import cpu_seconds, machine_load, number, parse_args, print_figure
from explorer.hall.settings import Settings
from explorer.inspect.degradation import degradation_verdict, final_losses
from explorer.inspect.teaching import CPU_DEGRADATION, GPU_DEGRADATION, degradation_runs
from explorer.training.jobs import JobRegistry
from explorer.training.runs import RunStore


def _setup(args: argparse.Namespace):
    base = GPU_DEGRADATION if args.full else CPU_DEGRADATION
    changes = {k: getattr(args, k) for k in ("width", "limit", "test_limit", "epochs", "batch_size", "resize")}
    changes = {k: v for k, v in changes.items() if v is not None}
    if args.depths:
        changes["depths"] = tuple(sorted(args.depths))
    return dataclasses.replace(base, dataset=args.dataset or base.dataset, **changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full-size version (a GPU's) instead of the CPU one")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--data-dir", default=None)
    for option in ("width", "limit", "test-limit", "epochs", "batch-size", "resize"):
        parser.add_argument(f"--{option}", type=int, default=None, help="default: the version's own")
    parser.add_argument("--depths", type=int, nargs=2, default=None, metavar=("SHALLOW", "DEEP"), help="6n+2 each")
    parser.add_argument("--json", default=None, help="also write the results to this file (the recorded run)")
    quick = {"device": "cpu", "dataset": "digits", "limit": 256, "test_limit": 100, "epochs": 1, "resize": 8,
             "depths": [8, 14]}  # fmt: skip
    args = parse_args(parser, argv, quick=quick)
    setup = _setup(args)
    runs = [
        (name, spec, dataclasses.replace(recipe, device=args.device)) for name, spec, recipe in degradation_runs(setup)
    ]
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else f"cpu ({os.cpu_count()} cores)"
    print(f"device: {name}; {setup.dataset}, {setup.described}; load before {machine_load()}", flush=True)
    with tempfile.TemporaryDirectory() as home:
        jobs = JobRegistry(RunStore(Path(home) / "runs.sqlite"), data_dir=args.data_dir, settings=Settings())
        try:
            jobs.speed(args.device, wait=180)  # the workers' start is not the experiment's time
            start = time.perf_counter()
            ids = [s.run_id for s in jobs.submit_all(runs, "degradation")]
            for run_id in ids:
                jobs.wait(run_id)
            seconds = time.perf_counter() - start
            cpu = cpu_seconds([slot.pid for slot in jobs.slots[args.device]])
            records = [jobs.store.get(run_id) for run_id in ids]
            epochs = {r.name: jobs.store.epochs(r.id) for r in records}
        finally:
            jobs.close()
    for record in records:
        if record.status != "completed":
            raise SystemExit(f"{record.name} ended {record.status}: {record.message}")
        rows = epochs[record.name]
        losses = [round(e["train_loss"], 4) for e in rows]
        errors = f"final train error {1 - rows[-1]['train_acc']:.4f}, test error {1 - rows[-1]['test_acc']:.4f}"
        print(f"{record.name:10s} {record.duration:6.1f} s  train loss {losses}  {errors}")
    final = final_losses({r.name: epochs[r.name] for r in records})
    print(f"wall time, all four from submitting: {seconds:.1f} s; load after {machine_load()}")
    print(f"CPU time of each worker: {', '.join(f'{c:.1f} s' for c in cpu)} (its start and measuring included)")
    print(degradation_verdict(final, setup.depths))
    if args.json:
        _write(Path(args.json), setup, records, epochs, name)
    shallow, deep = setup.depths
    residual = number(final[f"resnet-{deep}"] / final[f"resnet-{shallow}"])
    detail = f"plain-{deep} / plain-{shallow} final training loss; resnet-{deep} / resnet-{shallow}: {residual}x"
    print_figure("degradation", final[f"plain-{deep}"] / final[f"plain-{shallow}"], "x", f"{detail}; {seconds:.0f} s")
    return 0


def _write(path: Path, setup, records, epochs, device: str) -> None:
    """The recorded run the page shows beside its live one: the command, the device, the date."""
    command = "python -m benchmarks.degradation " + shlex.join(sys.argv[1:])
    data = {
        "command": command,
        "device": device,
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "setup": dataclasses.asdict(setup),
        "runs": {
            r.name: {"seconds": round(r.duration, 1), "epochs": [{k: e[k] for k in EPOCH_KEYS} for e in epochs[r.name]]}
            for r in records
        },
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")

if __name__ == "__main__":
    raise SystemExit(main())
