"""How long a control change takes to show its new parameter total in a real browser.

    python -m benchmarks.ui_latency [--changes 10] [--preset d2l-resnet18]
    python -m benchmarks.ui_latency --quick      # one change each: the start of the server and Chromium, and seconds

Serves the app (`streamlit run app.py`; --url names a server already running instead), opens the
Design page in Debian's Chromium (Playwright), and changes the number of classes `--changes` times,
timing each from the key press to the new total on screen (polled every animation frame): once with
the Layers view on screen, once with the Diagram view (the diagram is laid out in the browser).
Prints the medians, and last
`ratio: <N>x (Diagram view / Layers view, median seconds to the new total, <preset>)`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from tempfile import TemporaryDirectory

from playwright.sync_api import sync_playwright

import explorer
from benchmarks.common import parse_args, print_figure
from explorer import fmt
from tests.browser import ARGS, CHROMIUM, serve

METRIC = '[data-testid="stMetricValue"]'
VIEWS = ("Layers", "Diagram")


@contextmanager
def served() -> Iterator[str]:
    """`streamlit run app.py` with a data folder of its own, for as long as the block runs; its address."""
    with TemporaryDirectory() as home:
        server = serve(Path(home))
        url = next(server)
        try:
            yield url
        finally:
            next(server, None)  # the rest of serve(): the server stopped and waited for


def _total(spec: explorer.ResNetSpec, classes: int) -> str:
    return fmt.count(explorer.analyze(spec.with_classes(classes)).total_params)


def _time_changes(page, spec: explorer.ResNetSpec, view: str, changes: int) -> list[float]:
    page.get_by_text(view, exact=True).first.click()
    if view == "Diagram":
        page.locator('[data-testid="stGraphVizChart"] svg').first.wait_for(timeout=60_000)
    box = page.get_by_label("Classes")
    seconds = []
    for i in range(changes):
        classes = 11 + i + (100 if view == "Diagram" else 0)
        expected = _total(spec, classes)
        box.fill(str(classes))
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(
            "([sel, text]) => document.querySelector(sel)?.innerText === text", arg=[METRIC, expected], polling="raf"
        )
        seconds.append(time.perf_counter() - start)
        if i + 1 < changes:
            time.sleep(0.5)  # let the diagram finish before the next change
    return seconds


def latencies(
    preset: str, changes: int, views: tuple[str, ...] = VIEWS, url: str | None = None
) -> dict[str, list[float]]:
    """Seconds from each key press to the new total on screen, per view, in Chromium at 1280x800, on
    the app served at `url` (a server of its own when None)."""
    spec = explorer.preset(preset)
    with nullcontext(url) if url else served() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/?preset={preset}")
            page.locator(METRIC).first.wait_for(timeout=60_000)
            return {view: _time_changes(page, spec, view, changes) for view in views}
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--preset", default="d2l-resnet18")
    parser.add_argument("--url", help="a server already running (http://host:port) instead of starting one")
    args = parse_args(parser, argv, quick={"changes": 1})
    seconds = latencies(args.preset, args.changes, url=args.url)
    layers, diagram = statistics.median(seconds["Layers"]), statistics.median(seconds["Diagram"])
    print(f"network:                 {args.preset}, {args.changes} changes of the class count each")
    print(f"Layers view on screen:   median {layers:.3f} s (max {max(seconds['Layers']):.3f})")
    print(f"Diagram view on screen:  median {diagram:.3f} s (max {max(seconds['Diagram']):.3f})")
    detail = f"Diagram view / Layers view, median seconds to the new total, {args.preset}"
    print_figure("ratio", diagram / layers, "x", detail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
