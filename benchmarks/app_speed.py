"""Server-side time of a Design-page rerun after one control change, measured with AppTest.

    python -m benchmarks.app_speed [--repeats 15] [--browser]
    python -m benchmarks.app_speed --quick       # d2l-resnet18, 2 reruns each way: a few seconds

For resnet152 (target: at most 250 ms) and d2l-resnet18 (target: 100 ms), each rerun changes the
number of classes, so the analysis, tables, diagram and code are computed afresh (not served
from the cache), next to a rerun with Streamlit's caches cleared first. --browser first measures,
in Chromium, the time from pressing Enter in a control to the new total on screen (target 1 s),
with the diagram on screen and with the layer table instead (benchmarks/ui_latency.py's measurement,
on resnet152). Each network's last line, the very last being the last network's:
`ratio: <N>x (rerun with caches cleared / kept, median, <preset>)`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from tempfile import TemporaryDirectory

import streamlit as st
from streamlit.testing.v1 import AppTest

from benchmarks import ui_latency
from benchmarks.common import parse_args, print_figure
from tests.apptest import APP

TARGETS = {"resnet152": 0.250, "d2l-resnet18": 0.100}  # s: the most a rerun may take


@contextmanager
def own_home() -> Iterator[None]:
    """A data folder of this run's own (run history, settings), unless RESNET_EXPLORER_HOME names one."""
    if "RESNET_EXPLORER_HOME" in os.environ:
        yield
        return
    with TemporaryDirectory() as home:
        os.environ["RESNET_EXPLORER_HOME"] = home
        try:
            yield
        finally:
            del os.environ["RESNET_EXPLORER_HOME"]


def rerun_times(preset: str, repeats: int, clear: bool) -> list[float]:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["preset"] = preset
    at.run()
    at.number_input(key="d_classes").set_value(2).run()  # warm: first imports, first plotly figure
    times = []
    for i in range(repeats):
        if clear:
            st.cache_data.clear()
        at.number_input(key="d_classes").set_value(3 + i)  # a new network every time
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        assert not at.exception and not at.error, at.error
    return times


def show(label: str, times: list[float], target: float | None = None) -> float:
    median = statistics.median(times)
    goal = f"  (target {target * 1000:.0f} ms)" if target else ""
    print(f"{label:<48} median {median * 1000:7.1f} ms, max {max(times) * 1000:7.1f} ms{goal}")
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--browser", action="store_true")
    args = parse_args(parser, argv, quick={"presets": ["d2l-resnet18"], "repeats": 2})
    if args.browser:  # the diagram in the page (laid out on the server, painted by the browser) and without it
        seconds = ui_latency.latencies("resnet152", args.repeats, views=("Diagram", "Layers"))
        for view in ("Diagram", "Layers"):
            show(f"Chromium, {view} view: Enter -> new total shown", seconds[view]["total"], 1.0)
    with own_home():
        for preset in args.presets:
            ours = show(f"{preset}: rerun after one change", rerun_times(preset, args.repeats, False), TARGETS[preset])
            cold = show(f"{preset}: same, caches cleared first", rerun_times(preset, args.repeats, True))
            print_figure("ratio", cold / ours, "x", f"rerun with caches cleared / kept, median, {preset}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
