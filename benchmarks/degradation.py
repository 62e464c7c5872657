"""The degradation experiment (He et al. 2016, Fig. 1): plain-20/56 and resnet-20/56, same recipe.

    python -m benchmarks.degradation --device cuda --dataset cifar10
    python -m benchmarks.degradation --device cpu --dataset fashion-mnist     # the reduced CPU version
    python -m benchmarks.degradation --quick     # digits, 256 images, 1 epoch: a few seconds

Prints each network's training and test error after every epoch, the training time, and whether
the paper's qualitative result shows: plain-56 trains worse than plain-20, while resnet-56 trains
at least as well as resnet-20 (final training error, 0.5 point tolerance). Last:
`degradation: <N>x (plain-56 / plain-20 final training error; resnet-56 / resnet-20: <M>x)`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from benchmarks.common import number, parse_args, print_figure
from explorer.inspect.teaching import degradation_runs
from explorer.training.data import load_dataset, subset
from explorer.training.train import train


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.inf  # a network that fits its training set exactly has no error to divide by


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit", type=int, default=None, help="training images (default: the version's own)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the version's own)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parse_args(parser, argv, quick={"device": "cpu", "dataset": "digits", "limit": 256, "epochs": 1})
    gpu = args.device == "cuda"
    name = torch.cuda.get_device_name(0) if gpu else "cpu"
    data = load_dataset(args.dataset, args.data_dir)
    print(f"device: {name}; dataset {args.dataset}; {'full' if gpu else 'reduced CPU'} version", flush=True)
    results, total = {}, 0.0
    for run_name, spec, recipe in degradation_runs(gpu, args.dataset):
        recipe = dataclasses.replace(
            recipe, device=args.device, limit=args.limit or recipe.limit, epochs=args.epochs or recipe.epochs
        )
        start = time.perf_counter()
        result = train(spec, recipe, data=subset(data, recipe.limit))
        if result.status != "completed":
            raise SystemExit(f"{run_name} ended {result.status}: {result.message}")
        seconds = time.perf_counter() - start
        total += seconds
        train_err = [round(1 - e.train_acc, 4) for e in result.epochs]
        test_err = [round(1 - e.test_acc, 4) for e in result.epochs]
        results[run_name] = {"train_error": train_err, "test_error": test_err, "seconds": round(seconds, 1)}
        print(f"{run_name:10s} {seconds:6.1f} s  train error {train_err}  test error {test_err}", flush=True)
    final = {k: v["train_error"][-1] for k, v in results.items()}
    plain_degrades = final["plain-56"] > final["plain-20"]
    residual_fine = final["resnet-56"] <= final["resnet-20"] + 0.005
    print(f"training time, all four: {total:.1f} s")
    print(f"plain-56 trains worse than plain-20:        {plain_degrades} ({final['plain-56']} vs {final['plain-20']})")
    print(f"resnet-56 at least as good as resnet-20:    {residual_fine} ({final['resnet-56']} vs {final['resnet-20']})")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": name, "dataset": args.dataset, "runs": results}, indent=1))
    residual = number(_ratio(final["resnet-56"], final["resnet-20"]))
    print_figure(
        "degradation",
        _ratio(final["plain-56"], final["plain-20"]),
        "x",
        f"plain-56 / plain-20 final training error; resnet-56 / resnet-20: {residual}x",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
