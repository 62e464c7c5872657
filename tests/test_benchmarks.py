"""Every benchmark's quick mode runs, and its last line states its figure as benchmarks/common.py says:
`LABEL: NUMBER UNIT (DETAIL)`, the number finite and positive. Speed itself is not asserted: the
figures are for benchmarks/RESULTS.md, and this machine's speed drifts.

The scripts run in this process (torch is imported once); the two that measure a served app share
one server (conftest's `server`), so its start and first page are paid once."""

import importlib
import math
import re

import pytest

from tests.browser import MARKS

NUMBER = r"\d+(?:\.\d+)?(?:e[-+]\d+)?"
SERVED = {"lecture_load", "ui_latency"}  # given --url: the shared server
STORED = {"store_speed"}  # given --url: a schema on the tests' PostgreSQL server (tests/postgres.py)

SCRIPTS = [  # (module, extra options, the last line's label and unit)
    ("analysis_speed", [], "ratio", "x"),
    ("app_speed", [], "ratio", "x"),
    ("degradation", [], "degradation", "x"),
    ("estimate_accuracy", [], "furthest from 1", "x"),
    ("gradient_flow_speed", [], "slowest answer", " s"),
    ("stage_stats_overhead", [], "overhead", "%"),
    ("stem_speed", [], "ratio", "x"),
    ("step_speed", [], "speed-up over eager", "x"),
    ("twin_demo", [], "twin", "x"),
    ("train_throughput", [], "ratio", "x"),
    ("train_throughput", ["--rounds", "1"], "ratio", "x"),  # the GPU suite's way: each side's epochs in a row
    ("weight_decay", [], "ratio", "x"),
    ("lecture_load", [], "p95", " s"),
    ("store_speed", [], "kept connections", "x"),
    pytest.param("ui_latency", [], "ratio", "x", marks=MARKS),
]


def _id(value: object) -> str:
    return " ".join(value) if isinstance(value, list) else str(value).strip()


@pytest.mark.parametrize(("name", "extra", "label", "unit"), SCRIPTS, ids=_id)
def test_quick_mode_states_its_figure(name, extra, label, unit, fresh, request, capsys):
    argv = ["--quick", *extra]
    if name in SERVED:
        argv += ["--url", request.getfixturevalue("server")]
    if name in STORED:
        argv += ["--url", request.getfixturevalue("postgres_server").fresh()]
    assert importlib.import_module(f"benchmarks.{name}").main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = re.fullmatch(rf"{re.escape(label)}: (?P<figure>{NUMBER}){re.escape(unit)} \(.+\)", last)
    assert match, f"the last line of benchmarks/{name}.py: {last!r}"
    figure = float(match["figure"])
    assert math.isfinite(figure) and figure > 0, last
