"""What a link may carry: whole numbers in ASCII digits, JSON a few levels deep, run numbers.

A link is typed by anyone. Python's `str.isdigit()` is true for '²' and `\\d` matches '٣', yet
`int('²')` fails: `?input=3,²,224` broke two pages (issue 22). `json.loads` of a thousand nested
brackets raises RecursionError, which no `except ValueError` catches. Every parser of a query
parameter goes through these, and each refusal is one sentence (SpecError naming the parameter).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .arch.validate import SpecError

MAX_RUN_ID = 2**63 - 1  # SQLite's integers
MAX_JSON_DEPTH = 4  # a recipe is one object of scalars; a few levels leave room, a thousand do not


def is_whole_number(text: str, max_digits: int = 7) -> bool:
    """True for 1 to `max_digits` ASCII digits: no signs, spaces, superscripts or other scripts' digits."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def whole_number(text: str, name: str, max_digits: int = 7) -> int:
    """`text` as a whole number; SpecError naming the parameter otherwise."""
    if not is_whole_number(text, max_digits):
        raise SpecError(name, f"expected a whole number (digits 0-9, at most {max_digits}), got {text[:40]!r}")
    return int(text)


def run_id(text: str) -> int:
    """`?job=N`: a run number as SQLite stores it."""
    number = whole_number(text, "job", 19)
    if number > MAX_RUN_ID:
        raise SpecError("job", f"{text[:40]!r} is not a run number")
    return number


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text go, strings skipped: measured before parsing, so that
    depth is refused in a sentence instead of the parser's RecursionError."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def json_from_link(text: str, name: str, max_chars: int, example: str) -> Any:
    """A link's JSON value, at most `max_chars` long and `MAX_JSON_DEPTH` deep; SpecError otherwise."""
    if len(text) > max_chars:
        raise SpecError(name, f"{len(text):,} characters; at most {max_chars:,}")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise SpecError(name, f"nested more than {MAX_JSON_DEPTH} levels deep (expected JSON such as {example})")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise SpecError(name, f"not JSON (expected JSON such as {example})") from None
