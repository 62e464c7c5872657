"""Human-readable numbers, shared by the CLI, the diagram and the pages."""

from __future__ import annotations

from dataclasses import dataclass


def shape(dims: tuple[int, ...]) -> str:
    """(64, 56, 56) -> '64x56x56'."""
    return "x".join(str(v) for v in dims)


def count(n: int) -> str:
    """Exact integer with thousands separators: 11178378 -> '11,178,378'."""
    return f"{n:,}"


def gmacs(macs: int) -> str:
    """MACs in billions with three decimals, as torchvision publishes them: '1.814 GMACs'."""
    return f"{macs / 1e9:.3f} GMACs"


@dataclass(frozen=True)
class MacsUnit:
    name: str  # a column's name: "GMACs"
    scale: float  # MACs per unit
    format: str  # printf style, as Streamlit's NumberColumn takes it
    word: str  # for a chart's title: "billions"


def macs_unit(largest: int) -> MacsUnit:
    """The unit for MAC counts up to `largest`: GMACs (as torchvision publishes them) from a
    billion up; MMACs below, where a GMACs column would read 0.000, 0.001."""
    if largest >= 1e9:
        return MacsUnit("GMACs", 1e9, "%.3f", "billions")
    return MacsUnit("MMACs", 1e6, "%.1f", "millions")


def macs_short(macs: int) -> str:
    """A metric's value: '0.319 G' as torchvision counts; a huge network's in T or P rather than
    '3786283.644 G'."""
    for unit, size in (("P", 1e15), ("T", 1e12)):
        if macs >= size:
            return f"{macs / size:.3f} {unit}"
    return f"{macs / 1e9:.3f} G"


def nbytes(n: float) -> str:
    for unit, size in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def duration(seconds: float) -> str:
    """0.4 s and 3.2 s (tenths below ten seconds: a tiny run's epoch is not '0:00'), 42 s, 2:05, 1:02:03."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"
