"""How long a control change takes to show its new parameter total and diagram in a real browser.

    python -m benchmarks.ui_latency [--changes 10] [--preset d2l-resnet18]
    python -m benchmarks.ui_latency --quick      # one change each: the start of the server and Chromium, and seconds

Serves the app (`streamlit run app.py`; --url names a server already running instead), opens the
Design page in Debian's Chromium (Playwright), and changes the number of classes `--changes` times,
timing each from the key press to the new total on screen (polled every animation frame): once with
the Layers view on screen, once with the Diagram view, where it also times the redrawn diagram (its
head reads the new class count) and the longest frozen interval (Chromium's long tasks). Then the
first visit of every other page (the click in the menu to the page drawn whole) and a new browser's
first load of the Design page. Prints the medians, and last
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
DONE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PAGES = {  # the menu's entry: the page's title
    "Train": "Train",
    "Compare": "Compare two networks",
    "Why residuals?": "Why residuals?",
    "Challenge": "Class challenge",
}
DIAGRAM = ".rx-diagram svg"
VIEWS = ("Layers", "Diagram")
# the page's longest task since the last reset: how long the browser's main thread stood frozen
LONG_TASKS = """window.__longest = 0;
new PerformanceObserver((list) => {
  for (const task of list.getEntries()) window.__longest = Math.max(window.__longest, task.duration);
}).observe({ type: "longtask", buffered: true });"""


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


def _time_changes(page, spec: explorer.ResNetSpec, view: str, changes: int) -> dict[str, list[float]]:
    """Seconds to the new total per change; in the Diagram view also to the new diagram, and the
    longest task (s) from the key press to both on screen."""
    page.get_by_text(view, exact=True).first.click()
    if view == "Diagram":
        page.locator(DIAGRAM).first.wait_for(timeout=60_000)
    box = page.get_by_label("Classes")
    found: dict[str, list[float]] = {"total": [], "diagram": [], "frozen": []}
    for i in range(changes):
        classes = 11 + i + (100 if view == "Diagram" else 0)
        expected = _total(spec, classes)
        box.fill(str(classes))
        page.evaluate("() => { window.__longest = 0; }")
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(
            "([sel, text]) => document.querySelector(sel)?.innerText === text", arg=[METRIC, expected], polling="raf"
        )
        found["total"].append(time.perf_counter() - start)
        if view == "Diagram":
            page.wait_for_function(
                "([sel, text]) => document.querySelector(sel)?.textContent.includes(text)",
                arg=[DIAGRAM, f"{classes} class scores"],
                polling="raf",
            )
            found["diagram"].append(time.perf_counter() - start)
            found["frozen"].append(page.evaluate("() => window.__longest") / 1000)
        if i + 1 < changes:
            time.sleep(0.5)
    return found


def _finished(page, heading: str) -> None:
    """Wait until the page titled `heading` is on screen and its script has run to the end (the app's
    root says so: Streamlit's data-test-script-state, which its own end-to-end tests wait on)."""
    page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=60_000)
    page.locator(DONE).wait_for(timeout=60_000)


def _first_visits(page) -> dict[str, float]:
    """Seconds from the click on each page in the menu to that page drawn whole (a first visit)."""
    seconds = {}
    for title, heading in PAGES.items():
        start = time.perf_counter()
        page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        _finished(page, heading)
        seconds[title] = time.perf_counter() - start
    return seconds


def _cold_load(browser, url: str, preset: str) -> float:
    """Seconds from a new browser's address bar to the Design page drawn whole."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        start = time.perf_counter()
        context.new_page().goto(f"{url}/?preset={preset}")
        _finished(context.pages[0], "ResNet Explorer")
        return time.perf_counter() - start
    finally:
        context.close()


def latencies(
    preset: str, changes: int, views: tuple[str, ...] = VIEWS, url: str | None = None
) -> dict[str, dict[str, list[float]]]:
    """Per view, seconds from each key press to the new total (and diagram) on screen, in Chromium at
    1280x800, on the app served at `url` (a server of its own when None); "pages": the other pages'
    first visits; "cold": a new browser's first load of the Design page, after them."""
    spec = explorer.preset(preset)
    with nullcontext(url) if url else served() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.add_init_script(LONG_TASKS)
            page.goto(f"{url}/?preset={preset}")
            page.locator(METRIC).first.wait_for(timeout=60_000)
            found = {view: _time_changes(page, spec, view, changes) for view in views}
            visits = _first_visits(page)
            return found | {"pages": visits, "cold": _cold_load(browser, url, preset)}
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--preset", default="d2l-resnet18")
    parser.add_argument("--url", help="a server already running (http://host:port) instead of starting one")
    args = parse_args(parser, argv, quick={"changes": 1})
    seconds = latencies(args.preset, args.changes, url=args.url)
    layers, diagram = statistics.median(seconds["Layers"]["total"]), statistics.median(seconds["Diagram"]["total"])
    drawn, frozen = seconds["Diagram"]["diagram"], seconds["Diagram"]["frozen"]
    print(f"network:                 {args.preset}, {args.changes} changes of the class count each")
    print(f"Layers view, new total:  median {layers:.3f} s (max {max(seconds['Layers']['total']):.3f})")
    print(f"Diagram view, new total: median {diagram:.3f} s (max {max(seconds['Diagram']['total']):.3f})")
    print(f"the new diagram:         median {statistics.median(drawn):.3f} s (max {max(drawn):.3f})")
    print(f"longest frozen interval: {max(frozen) * 1000:.0f} ms (Chromium's long tasks, Diagram view)")
    visits = ", ".join(f"{title} {visit:.3f} s" for title, visit in seconds["pages"].items())
    print(f"first visit of a page:   {visits}")
    print(f"a new browser's load:    {seconds['cold']:.3f} s (the Design page drawn whole)")
    detail = f"Diagram view / Layers view, median seconds to the new total, {args.preset}"
    print_figure("ratio", diagram / layers, "x", detail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
