"""Reading the Why residuals? experiments off their runs: groups come from each run's spec, not its
name; the sweep's and the range tests' numbers and sentences."""

import math
from types import SimpleNamespace

from explorer.inspect import experiments
from explorer.training.lr_range import RANGE_STEPS, RangeCurve


def run(name, lr=0.1, bn=True, residual=True, status="completed", message=""):
    spec = {"batch_norm": bn, "residual": residual}
    return SimpleNamespace(name=name, spec=spec, recipe={"lr": lr}, status=status, message=message, id=id(name))


def test_groups_come_from_the_spec_not_the_name():
    misnamed = run("plain-56 (really residual)", residual=True, bn=False)
    assert not experiments.is_plain(misnamed) and experiments.norm_group(misnamed) == "no BN"
    assert experiments.is_plain(run("resnet-20", residual=False))


def test_sweep_points_sorted_diverged_at_the_top_unfinished_left_out():
    runs = [
        run("a", 0.3), run("b", 0.01), run("c", 3.0, status="diverged"),
        run("d", 1.0, bn=False, status="running"), run("e", 0.1, bn=False),
    ]  # fmt: skip
    losses = {"a": 0.9, "b": 1.6, "e": 5e3}
    points = experiments.sweep_points(runs, lambda r: losses.get(r.name))
    assert points == {"BN": ([0.01, 0.3, 3.0], [1.6, 0.9, 1e3]), "no BN": ([0.1], [1e3])}
    assert experiments.stable_limit(*points["BN"]) == 0.3 and experiments.stable_limit(*points["no BN"]) is None
    assert experiments.sweep_readout(points, math.log(10)) == (
        "Lowest final loss: BN **0.90** at lr 0.3 (guessing scores 2.30). Diverged: BN at lr 3; no BN at lr 0.1."
    )


def test_range_tests_read_in_words():
    grew = [1e-5 * 1.2**i for i in range(40)]
    blew = RangeCurve(lrs=grew, losses=[2.0] * 40, smoothed=[2.0] * 39 + [1.47], lowest_lr=0.002, suggested_lr=0.001)
    flat = [2.0] * (RANGE_STEPS - 1) + [2.26]
    whole = RangeCurve(lrs=[1e-5] * RANGE_STEPS, losses=flat, smoothed=flat, lowest_lr=0.009, suggested_lr=5e-5)
    assert experiments.range_limit(blew) == grew[-1] and experiments.range_limit(whole) == math.inf
    assert experiments.range_readout([("BN", blew), ("no BN", whole)]) == (
        f"BN: falls fastest at lr **0.001**, lowest loss **1.47** at 0.002, blew up by lr **{grew[-1]:.2g}**; "
        "no BN: falls fastest at lr **5e-05**, lowest loss **2.00** at 0.009, never blew up."
    )


def test_failures_say_each_reason_once():
    runs = [run("a", status="failed", message="no internet"), run("b", status="failed", message="no internet"),
            run("c"), run("d", status="failed")]  # fmt: skip
    assert experiments.failures(runs) == {"no internet": ["a", "b"], "no reason recorded": ["d"]}
