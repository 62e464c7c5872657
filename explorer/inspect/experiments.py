"""Reading the Why residuals? experiments off their runs: which runs are plain or residual, with or
without batch norm (from each run's spec, never its name), the learning-rate sweep's final losses,
the range tests' limits, and why runs failed."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ..training.lr_range import RANGE_STEPS, RangeCurve
from ..training.run_record import RunRecord

DIVERGED_LOSS = 1e3  # a final loss above this counts as blown up (and is drawn there)
BN, NO_BN = "BN", "no BN"


def is_plain(run: RunRecord) -> bool:
    """A run of a network without shortcuts (drawn dashed beside the residual ones)."""
    return run.spec.get("residual") is False


def norm_group(run: RunRecord) -> str:
    return BN if run.spec.get("batch_norm", True) else NO_BN


def failures(runs: Iterable[RunRecord]) -> dict[str, list[str]]:
    """Each distinct reason runs failed for (an offline download, say), with the runs' names."""
    reasons: dict[str, list[str]] = {}
    for run in runs:
        if run.status == "failed":
            reasons.setdefault(run.message or "no reason recorded", []).append(run.name)
    return reasons


def sweep_points(
    runs: Iterable[RunRecord], final_loss: Callable[[RunRecord], float | None]
) -> dict[str, tuple[list[float], list[float]]]:
    """The sweep's (learning rates, final training losses) per norm group, sorted by rate: a
    diverged run at DIVERGED_LOSS; runs not finished yet left out."""
    points: dict[str, list[tuple[float, float]]] = {BN: [], NO_BN: []}
    for run in runs:
        loss = final_loss(run) if run.status == "completed" else None
        if run.status == "diverged" or (loss is not None and loss > DIVERGED_LOSS):
            loss = DIVERGED_LOSS  # non-finite, or blown up without becoming so
        if loss is not None:
            points[norm_group(run)].append((run.recipe["lr"], loss))
    return {group: ([lr for lr, _ in sorted(p)], [loss for _, loss in sorted(p)]) for group, p in points.items()}


def stable_limit(lrs: list[float], losses: list[float]) -> float | None:
    """The largest learning rate of the sweep that trained without blowing up, if any."""
    return max((lr for lr, loss in zip(lrs, losses, strict=True) if loss < DIVERGED_LOSS), default=None)


def sweep_readout(points: dict[str, tuple[list[float], list[float]]], chance: float) -> str:
    """The sweep in one sentence: each group's lowest final loss and where it diverged."""
    best, diverged = [], []
    for group, (lrs, losses) in points.items():
        stable = [(loss, lr) for lr, loss in zip(lrs, losses, strict=True) if loss < DIVERGED_LOSS]
        if stable:
            loss, lr = min(stable)
            best.append(f"{group} **{loss:.2f}** at lr {lr:g}")
        gone = sorted(lr for lr, loss in zip(lrs, losses, strict=True) if loss >= DIVERGED_LOSS)
        diverged.append(f"{group} at lr {', '.join(f'{lr:g}' for lr in gone)}" if gone else f"{group} never")
    return f"Lowest final loss: {'; '.join(best)} (guessing scores {chance:.2f}). Diverged: {'; '.join(diverged)}."


def chance_loss(classes: int) -> float:
    """The cross-entropy of a uniform guess over `classes`."""
    return math.log(classes)


def range_limit(curve: RangeCurve) -> float:
    """The last learning rate before a range test blew up, or infinity if it never did."""
    return curve.lrs[-1] if len(curve.lrs) < RANGE_STEPS else math.inf


def range_readout(tests: list[tuple[str, RangeCurve]]) -> str:
    """Each range test in words: where its loss falls fastest, how low it gets, where it blew up."""
    said = [
        f"{name}: falls fastest at lr **{c.suggested_lr:.2g}**, lowest loss **{c.lowest_loss:.2f}** "
        f"at {c.lowest_lr:.2g}, "
        + (f"blew up by lr **{c.lrs[-1]:.2g}**" if math.isfinite(range_limit(c)) else "never blew up")  # fmt: skip
        for name, c in tests
    ]
    return "; ".join(said) + "."
