"""Weight decay on every parameter (the baseline) against on convolution and linear weights only
(explorer.training.steps.param_groups: norm scales and shifts and biases are left alone), same network,
data, recipe and seeds; test accuracy after the run.

    python -m benchmarks.weight_decay                                   # resnet-mini, CPU recipe
    python -m benchmarks.weight_decay --weight-decay 5e-4 5e-3 --seeds 0 1 2
    python -m benchmarks.weight_decay --quick     # digits, 256 images, 1 epoch, one seed: seconds

Prints each run, each decay's means and their difference (weights only - all parameters), and last
`ratio: <N>x (weights only / all parameters, mean test accuracy of <k> runs each)`.
"""

from __future__ import annotations

import argparse
import statistics

import torch

import explorer
import explorer.training.steps as steps
from benchmarks.common import parse_args, print_figure
from explorer.training.data import load_dataset, subset
from explorer.training.recipe import CPU_RECIPE
from explorer.training.train import train
from explorer.training.worker import set_process_state

OURS = steps.param_groups


def everything(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """The baseline: one group, every parameter decayed (what torch.optim does by default)."""
    return [{"params": list(model.parameters()), "weight_decay": weight_decay}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="resnet-mini")
    parser.add_argument("--dataset", default=CPU_RECIPE.dataset)
    parser.add_argument("--weight-decay", type=float, nargs="+", default=[5e-4, 5e-3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=CPU_RECIPE.epochs)
    parser.add_argument("--limit", type=int, default=CPU_RECIPE.limit, help="training images")
    parser.add_argument("--data-dir")
    quick = {"dataset": "digits", "weight_decay": [5e-4], "seeds": [0], "epochs": 1, "limit": 256}
    args = parse_args(parser, argv, quick)
    set_process_state("cpu", low_priority=False)
    data = load_dataset(args.dataset, args.data_dir)
    spec = explorer.preset(args.preset)
    accs: dict[str, list[float]] = {"all parameters": [], "weights only": []}
    try:
        for decay in args.weight_decay:
            start = len(accs["weights only"])
            for seed in args.seeds:
                recipe = CPU_RECIPE.but(
                    dataset=args.dataset, weight_decay=decay, seed=seed, epochs=args.epochs, limit=args.limit
                )
                for name, groups in (("all parameters", everything), ("weights only", OURS)):
                    steps.param_groups = groups  # the engine builds its optimizer's groups with this
                    result = train(spec, recipe, data=subset(data, recipe.limit))
                    accs[name].append(result.epochs[-1].test_acc)
                    print(f"wd {decay:g} seed {seed} {name:>14}: test acc {accs[name][-1]:.4f}", flush=True)
            mean = {name: statistics.mean(v[start:]) for name, v in accs.items()}
            difference = mean["weights only"] - mean["all parameters"]
            print(
                f"wd {decay:g}: all parameters {mean['all parameters']:.4f}, weights only {mean['weights only']:.4f}, "
                f"difference {difference:+.4f}"
            )
    finally:
        steps.param_groups = OURS
    ratio = statistics.mean(accs["weights only"]) / statistics.mean(accs["all parameters"])
    runs = len(accs["weights only"])
    print_figure("ratio", ratio, "x", f"weights only / all parameters, mean test accuracy of {runs} runs each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
