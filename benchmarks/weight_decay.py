"""Weight decay on every parameter (the baseline) against on convolution and linear weights only
(explorer.training.steps.param_groups: norm scales and shifts and biases are left alone), same network,
data, recipe and seeds; test accuracy after the run.

    python benchmarks/weight_decay.py                                   # resnet-mini, CPU recipe
    python benchmarks/weight_decay.py --weight-decay 5e-4 5e-3 --seeds 0 1 2

Prints each run, the means, and last the mean difference (ours - baseline) in test accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import explorer  # noqa: E402
import explorer.training.steps as steps  # noqa: E402
from explorer.training.data import load_dataset, subset  # noqa: E402
from explorer.training.recipe import CPU_RECIPE  # noqa: E402
from explorer.training.train import train  # noqa: E402
from explorer.training.worker import set_process_state  # noqa: E402

OURS = steps.param_groups


def everything(model, weight_decay: float) -> list[dict]:
    """The baseline: one group, every parameter decayed (what torch.optim does by default)."""
    return [{"params": list(model.parameters()), "weight_decay": weight_decay}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="resnet-mini")
    parser.add_argument("--dataset", default=CPU_RECIPE.dataset)
    parser.add_argument("--weight-decay", type=float, nargs="+", default=[5e-4, 5e-3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    set_process_state("cpu", low_priority=False)
    data = load_dataset(args.dataset, args.data_dir)
    spec = explorer.preset(args.preset)
    differences = []
    for decay in args.weight_decay:
        accs: dict[str, list[float]] = {"all parameters": [], "weights only": []}
        for seed in args.seeds:
            recipe = CPU_RECIPE.but(dataset=args.dataset, weight_decay=decay, seed=seed)
            for name, groups in (("all parameters", everything), ("weights only", OURS)):
                steps.param_groups = groups
                result = train(spec, recipe, data=subset(data, recipe.limit))
                accs[name].append(result.epochs[-1].test_acc)
                print(f"wd {decay:g} seed {seed} {name:>14}: test acc {accs[name][-1]:.4f}", flush=True)
        steps.param_groups = OURS
        mean = {name: statistics.mean(v) for name, v in accs.items()}
        differences.append(mean["weights only"] - mean["all parameters"])
        print(f"wd {decay:g}: all parameters {mean['all parameters']:.4f}, weights only {mean['weights only']:.4f}")
    print(f"weights only - all parameters: {', '.join(f'{d:+.4f}' for d in differences)} test accuracy")


if __name__ == "__main__":
    main()
