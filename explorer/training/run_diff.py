"""Telling stored runs apart: the settings in which they differ, and legend labels built from them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .recipe import Recipe
from .run_record import RunRecord

# Recipe settings under shorter names; log_every changes only how often the loss is read.
_SHORT = {"batch_size": "batch", "weight_decay": "wd", "label_smoothing": "smoothing", "log_every": None}


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return {"resize": "native", "limit": "all"}.get(key, "-")
    return f"{value:,}" if key == "params" else str(value)


def differing_settings(runs: list[RunRecord]) -> dict[str, list[str]]:
    """The settings (recipe, device, parameter count) in which the given runs differ: name -> the
    value of each run, in order. Settings a run predates count at Recipe's defaults."""
    defaults = asdict(Recipe())
    settings = [{**defaults, **r.recipe, "device": r.device, "params": r.params} for r in runs]
    out = {}
    for key in dict.fromkeys(k for s in settings for k in s):
        values = [_value(key, s.get(key)) for s in settings]
        if _SHORT.get(key, key) is not None and len(set(values)) > 1:
            out[_SHORT.get(key, key)] = values
    return out


def run_labels(runs: list[RunRecord], most: int = 3) -> list[str]:
    """A legend label per run: '#id name', then the fewest differing settings (up to `most`) that
    tell the runs apart, chosen greedily — two overlaid runs of one network read 'lr 0.1' and
    'lr 0.05', not the same name twice."""
    differs = differing_settings(runs)
    chosen: list[str] = []

    def distinct(names: list[str]) -> int:
        return len({tuple(differs[n][i] for n in names) for i in range(len(runs))})

    while differs and len(chosen) < most and distinct(chosen) < len(runs):
        best = max((n for n in differs if n not in chosen), key=lambda n: distinct([*chosen, n]), default=None)
        if best is None or distinct([*chosen, best]) == distinct(chosen):
            break
        chosen.append(best)
    return [
        f"#{run.id} {run.name}" + "".join(f" · {name} {differs[name][i]}" for name in chosen)
        for i, run in enumerate(runs)
    ]
