"""Server-side time of a Design-page rerun after one control change, measured with AppTest.

    python benchmarks/app_speed.py [--repeats 15] [--browser]

For resnet152 (target: at most 250 ms) and d2l-resnet18 (target: 100 ms), each rerun changes the
number of classes, so the analysis, tables, diagram and code are computed afresh (not served
from the cache), next to a rerun with Streamlit's caches cleared first. --browser also measures,
in Chromium, the time from pressing Enter in a control to the new total on screen (target 1 s),
with the diagram on screen and with the layer table instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RESNET_EXPLORER_HOME", tempfile.mkdtemp())

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402


def rerun_times(preset: str, repeats: int, clear: bool) -> list[float]:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
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


def browser_latency(repeats: int, view: str) -> list[float]:
    from playwright.sync_api import expect, sync_playwright

    port = 8765
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1", "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(4)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/?preset=resnet152")
            expect(page.get_by_text("60,192,808").first).to_be_visible(timeout=60_000)
            page.get_by_text(view, exact=True).first.click()
            page.wait_for_timeout(1000)
            classes = page.get_by_label("Classes")
            times = []
            for i in range(repeats):
                n = 10 + i
                total = 60_192_808 - 2_049_000 + 2048 * n + n
                classes.fill(str(n))
                start = time.perf_counter()
                classes.press("Enter")
                expect(page.get_by_text(f"{total:,}").first).to_be_visible(timeout=10_000)
                times.append(time.perf_counter() - start)
                page.wait_for_timeout(300)
            browser.close()
        return times
    finally:
        server.terminate()


def show(label: str, times: list[float], target: float | None = None) -> float:
    median = statistics.median(times)
    goal = f"  (target {target * 1000:.0f} ms)" if target else ""
    print(f"{label:<48} median {median * 1000:7.1f} ms, max {max(times) * 1000:7.1f} ms{goal}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    for preset, target in (("resnet152", 0.250), ("d2l-resnet18", 0.100)):
        ours = show(f"{preset}: rerun after one change", rerun_times(preset, args.repeats, clear=False), target)
        cold = show(f"{preset}: same, caches cleared first", rerun_times(preset, args.repeats, clear=True))
        print(f"{'':<48} ratio cold/ours {cold / ours:.2f}x")
    if args.browser:  # the diagram is laid out in the browser (d3-graphviz): measured with and without it
        for view in ("Diagram", "Layers"):
            show(f"Chromium, {view} view: Enter -> new total shown", browser_latency(args.repeats, view), 1.0)


if __name__ == "__main__":
    main()
