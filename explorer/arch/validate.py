"""Field validators shared by the network spec and the training recipe.

Each raises the given error class (a SpecError) with a message naming field, value and range.
"""

from __future__ import annotations

import difflib
import math
from typing import Any


class SpecError(ValueError):
    """A bad value in a network description: the message names field, value and what is allowed."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def check_int(field_name: str, value: Any, low: int, high: int, error: type[SpecError] = SpecError) -> int:
    # bool is an int subclass in Python; `true` for a channel count is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(field_name, f"expected an integer in {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise error(field_name, f"{value} is out of range; allowed {low}..{high}")
    return value


def check_float(
    field_name: str, value: Any, low: float, high: float, error: type[SpecError] = SpecError, low_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise error(field_name, f"expected a number in {'(' if low_open else '['}{low:g}, {high:g}], got {value!r}")
    if value > high or value < low or (low_open and value == low):
        raise error(field_name, f"{value:g} is out of range; allowed {'(' if low_open else '['}{low:g}, {high:g}]")
    return float(value)


def check_choice(field_name: str, value: Any, allowed: tuple[str, ...], error: type[SpecError] = SpecError) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise error(field_name, f"unknown value {value!r}; allowed: {', '.join(allowed)}")
    return value


def check_bool(field_name: str, value: Any, error: type[SpecError] = SpecError) -> bool:
    if not isinstance(value, bool):
        raise error(field_name, f"expected true or false, got {value!r}")
    return value


def check_keys(where: str, data: Any, allowed: set[str], error: type[SpecError] = SpecError) -> dict[str, Any]:
    """`data` as a dict whose keys are all in `allowed`; a typo is named with the likely key."""
    if not isinstance(data, dict):
        raise error(where or "spec", f"expected a JSON object, got {type(data).__name__}")
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            name = f"{where}.{key}" if where else str(key)
            raise error(name, f"unknown key {key!r}{hint}; allowed: {', '.join(sorted(allowed))}")
    return data
