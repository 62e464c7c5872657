"""He et al.'s Fig. 1 read off its runs: each network's final training loss, what the four show in
words (computed from the numbers shown, in either direction), and the app's recorded run (a larger
version than a CPU trains during a lecture: explorer/data/degradation_recorded.json, made by
benchmarks/degradation.py --json, which writes its command, device and date into it).

The result (He et al. 2016, "Deep residual learning for image recognition", Sec. 4.1): a deeper plain
network ends with a higher training error than a shallower one (degradation, which is not
overfitting: it is the training error), while the deeper residual network ends no worse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .teaching import DegradationSetup

RECORDED_FILE = Path(__file__).resolve().parents[1] / "data" / "degradation_recorded.json"
SHOWN_DIGITS = 3  # the loss as the page prints it; the words compare what is printed


def final_losses(epochs_by_name: dict[str, list[dict]]) -> dict[str, float]:
    """Each run's training loss over its last epoch (runs without an epoch left out)."""
    return {name: rows[-1]["train_loss"] for name, rows in epochs_by_name.items() if rows}


def _shown(value: float) -> str:
    return f"{value:.{SHOWN_DIGITS}f}"


def _pair(kind: str, final: dict[str, float], shallow: int, deep: int) -> tuple[str, str, float, float] | None:
    names = (f"{kind}-{shallow}", f"{kind}-{deep}")
    if not all(name in final for name in names):
        return None
    return (*names, round(final[names[0]], SHOWN_DIGITS), round(final[names[1]], SHOWN_DIGITS))


def _compared(deep: float, shallow: float) -> str:
    if deep == shallow:
        return "the same training loss as"
    return f"a {'higher' if deep > shallow else 'lower'} training loss than"


def degradation_verdict(final: dict[str, float], depths: tuple[int, int]) -> str:
    """What the final training losses show, one sentence per pair that has finished; the direction
    words are read off the printed values, so they can never contradict them."""
    shallow, deep = depths
    said = []
    if plain := _pair("plain", final, shallow, deep):
        low, high, a, b = plain
        heading = "**Plain: degradation.**" if b > a else "**Plain: no degradation here.**"
        meaning = ": the deeper plain network trains worse." if b > a else "."
        said.append(f"{heading} {high} ends with {_compared(b, a)} {low} ({_shown(b)} against {_shown(a)}){meaning}")
    if residual := _pair("resnet", final, shallow, deep):
        low, high, a, b = residual
        heading = "**Residual: no degradation.**" if b <= a else "**Residual: the deeper one is behind here.**"
        meaning = ": the deeper residual network trains at least as well." if b <= a else "."
        said.append(f"{heading} {high} ends with {_compared(b, a)} {low} ({_shown(b)} against {_shown(a)}){meaning}")
    return " ".join(said)


@dataclass(frozen=True)
class RecordedRun:
    """A recorded run of the experiment, shipped with the app: how it was made and what it gave."""

    command: str
    device: str
    date: str
    described: str
    depths: tuple[int, int]
    epochs: dict[str, list[dict[str, Any]]]  # per run name, its epochs (train_loss, train_acc, test_acc ...)
    seconds: dict[str, float]

    @property
    def final(self) -> dict[str, float]:
        return final_losses(self.epochs)


def recorded_run(path: Path = RECORDED_FILE) -> RecordedRun | None:
    """The recorded run, or None where the file is missing (a checkout without it)."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    setup = DegradationSetup(**{**data["setup"], "depths": tuple(data["setup"]["depths"])})
    return RecordedRun(
        data["command"],
        data["device"],
        data["date"],
        setup.described,
        setup.depths,
        {name: run["epochs"] for name, run in data["runs"].items()},
        {name: run["seconds"] for name, run in data["runs"].items()},
    )
