"""What the browser tests share: a `streamlit run app.py` server on a free port, Debian's Chromium
with the flags that keep hidden pages updating, and the steps several tests take."""

import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.waits import wait_until

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
MARKS = [  # every browser test: marked, and skipped where Chromium is missing
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"),
]
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Path, **env: str):
    """`streamlit run app.py` on a free port with its own data folder; yields its address."""
    port = free_port()
    env = {  # a real server's warm-up (the suite's in-process apps have it off: conftest)
        **os.environ, "RESNET_EXPLORER_HOME": str(home), "OMP_NUM_THREADS": "1",
        "RESNET_EXPLORER_WARM_UP_WORKERS": "1", **env,
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false",
         "--server.fileWatcherType=none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:  # also when the generator is closed early or a test fails: no server left behind
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Ask the server to end (it stops its workers); kill it if a loaded machine keeps it longer."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


def wait_healthy(url: str, proc: subprocess.Popen) -> None:
    """Until the server at `url` answers its health check; fails the test if it does not start."""
    if not wait_until(lambda: healthy(url) or proc.poll() is not None, 60, poll=0.3) or proc.poll() is not None:
        proc.kill()
        pytest.fail(f"streamlit did not start (exit status {proc.poll()})")


def expect_text(page, text: str, timeout: float = 30_000):
    from playwright.sync_api import expect

    expect(page.get_by_text(text, exact=False).first).to_be_visible(timeout=timeout)


def choose(page, label: str, option: str) -> None:
    """Open a selectbox and pick an option by typing it (the long lists are virtualised)."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()


def start_digits_run(server, page, epochs: int, batch_size: int | None = None, button: str = "Start") -> None:
    """From the Train page: resnet-mini on the offline digits, started (or range-tested)."""
    from playwright.sync_api import expect

    page.goto(f"{server}/train")
    expect_text(page, "Run history", timeout=60_000)  # a first visit waits for the workers on a busy machine
    choose(page, "Network", "resnet-mini")
    epochs_box = page.get_by_label("Epochs")
    expect(epochs_box).to_have_value("5", timeout=15_000)  # the CPU recipe arrived with the network
    choose(page, "Dataset", "Digits (offline)")
    epochs_box.fill(str(epochs))
    if batch_size:
        page.get_by_label("Batch size").fill(str(batch_size))
        page.get_by_label("Batch size").press("Tab")
        expect_text(page, f"Estimated here for Digits (offline), batch {batch_size}:")  # each edit, re-estimated
    page.get_by_role("button", name=button, exact=True).click()


def stop_button(page):
    """The run's Stop button: any button named Stop in the page's main area. Not Streamlit's own
    "Stop" in the header, shown while a script runs (seen on a loaded machine: two of that name)."""
    return page.get_by_test_id("stMain").get_by_role("button", name="Stop")


ELAPSED = re.compile(r"elapsed [\d.:]+")  # "elapsed 3.2 s", "elapsed 1:05"


def history_row(page, row: int) -> None:
    """Tick a row of the run history (a canvas grid: its checkboxes are clicked where they are drawn).
    It is the Train page's first table; the table of what differs comes after it."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 * (row + 1) + 17)  # rows of 35 px under the header


CUT_TEXT = """() => [...document.querySelectorAll('[data-testid=stMain] *')]
  .filter(n => getComputedStyle(n).textOverflow === 'ellipsis' && n.scrollWidth > n.clientWidth + 1)
  .map(n => n.innerText.trim()).filter(Boolean)"""


def tables_scrolling_sideways(page) -> list[int]:
    """How far each table of the page's main area scrolls sideways; empty when none does."""
    page.locator('[data-testid="stMain"] [data-testid="stDataFrame"] .dvn-scroller').first.wait_for(timeout=30_000)
    widths = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stDataFrame] .dvn-scroller')]"
        ".map(e => e.scrollWidth - e.clientWidth)"
    )
    return [w for w in widths if w > 0]


def train_stored_run(home: Path, epochs: int) -> int:
    """A finished resnet-mini run on the digits, trained by the CLI into a server's run history (the
    browser tests that only look at a finished run need not wait for one to train through a page)."""
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "train", "--preset", "resnet-mini", "--dataset", "digits",
         "--epochs", str(epochs), "--db", str(home / "runs.sqlite"), "--data-dir", str(home / "datasets")],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(re.search(r"run (\d+)", out.stderr + out.stdout).group(1))
