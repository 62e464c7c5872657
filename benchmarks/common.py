"""What every benchmark shares: the --quick switch and the line that states its figure.

Each benchmark's last printed line is `LABEL: NUMBER UNIT (DETAIL)`, where NUMBER is a finite positive
number (`2.68`, `513`, `0.000612`, `6.10e-05`), UNIT is `x` (a ratio, written against the number),
` s`, ` ms` or `%`, and DETAIL says what was compared. tests/test_benchmarks.py runs every script's
quick mode and reads that line back.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

UNITS = ("x", " s", " ms", "%")


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None, quick: dict[str, Any]) -> argparse.Namespace:
    """Parse `argv` (the command line's when None) with a --quick switch that makes `quick` the
    defaults: tiny sizes that run in seconds, for the test suite. Options given explicitly still win."""
    shown = " ".join(_shown(key, value) for key, value in quick.items())
    parser.add_argument("--quick", action="store_true", help=f"tiny sizes, a few seconds: {shown}")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**quick)
    return parser.parse_args(argv)


def _shown(key: str, value: Any) -> str:
    """An option as it would be typed: `--batch-size 16`, `--tiny-data`, `--seeds 0 1`."""
    option = f"--{key.replace('_', '-')}"
    if value is True:
        return option
    return f"{option} {' '.join(map(str, value)) if isinstance(value, (list, tuple)) else value}"


def number(value: float) -> str:
    """Three significant digits, whole numbers from 100 up: 1.00, 2.68, 67.3, 513, 0.000612."""
    text = f"{value:#.3g}"  # '#' keeps the trailing zeros of 1.00
    return f"{value:.0f}" if "e+" in text or text.endswith(".") else text


def print_figure(label: str, value: float, unit: str, detail: str) -> None:
    """Print the benchmark's last line, `label: <value><unit> (detail)`."""
    if unit not in UNITS:
        raise ValueError(f"unit {unit!r}: expected one of {UNITS}")
    print(f"{label}: {number(value)}{unit} ({detail})", flush=True)


def machine_load() -> str:
    """The load averages (1, 5, 15 minutes): how busy the machine was, for RESULTS.md."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def cpu_seconds(pids: list[int | None]) -> list[float]:
    """Each process's CPU time so far (Linux /proc; 0 where it cannot be read). On a machine that
    others load, a one-thread worker's CPU time is what its wall time would be on a quiet one."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds.append((int(fields[11]) + int(fields[12])) / ticks)
        except (OSError, IndexError, ValueError):
            seconds.append(0.0)
    return seconds
