"""How long a control change takes to show its new parameter total in a real browser.

    python benchmarks/ui_latency.py [--changes 10] [--preset d2l-resnet18]

Serves the app (`streamlit run app.py`), opens the Design page in Debian's Chromium (Playwright),
and changes the number of classes `--changes` times, timing each from the key press to the new
total on screen (polled every animation frame): once with the Layers view on screen, once with the
Diagram view (the diagram is laid out in the browser). Prints the medians and their ratio last.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import explorer  # noqa: E402
from explorer import fmt  # noqa: E402
from tests.browser import ARGS, CHROMIUM, serve  # noqa: E402

METRIC = '[data-testid="stMetricValue"]'


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
        time.sleep(0.5)  # let the diagram finish before the next change
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--preset", default="d2l-resnet18")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    spec = explorer.preset(args.preset)
    with TemporaryDirectory() as home, sync_playwright() as p:
        server = serve(Path(home))
        url = next(server)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/?preset={args.preset}")
        page.locator(METRIC).first.wait_for(timeout=60_000)
        layers = _time_changes(page, spec, "Layers", args.changes)
        diagram = _time_changes(page, spec, "Diagram", args.changes)
        browser.close()
        server.close()
    print(f"network:                 {args.preset}, {args.changes} changes of the class count each")
    print(f"Layers view on screen:   median {statistics.median(layers):.3f} s (max {max(layers):.3f})")
    print(f"Diagram view on screen:  median {statistics.median(diagram):.3f} s (max {max(diagram):.3f})")
    print(f"ratio:                   {statistics.median(diagram) / statistics.median(layers):.2f}x")


if __name__ == "__main__":
    main()
