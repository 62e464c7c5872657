"""The app in a real browser: `streamlit run app.py` driven by Playwright in Debian's Chromium."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home: Path, **env: str):
    """`streamlit run app.py` on a free port with its own data folder; yields its address."""
    port = _free_port()
    env = {**os.environ, "RESNET_EXPLORER_HOME": str(home), "OMP_NUM_THREADS": "1", **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false",
         "--server.fileWatcherType=none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not start")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app as one user runs it on a laptop: 127.0.0.1, no lecturer key (that user may do anything)."""
    yield from _serve(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def hall_server(tmp_path_factory):
    """The app as a lecture hall has it: a lecturer key is set, so students own only their runs."""
    yield from _serve(tmp_path_factory.mktemp("hall"), RESNET_EXPLORER_LECTURER_KEY="chalk")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def expect_text(page, text: str, timeout: float = 30_000):
    from playwright.sync_api import expect

    expect(page.get_by_text(text, exact=False).first).to_be_visible(timeout=timeout)


def test_first_visitor_of_a_fresh_server_deep_links_into_the_router(server, page):
    """A bookmark to /train must get the app's own menu and layout even as the server's first page."""
    page.goto(f"{server}/train?lecture=0")
    expect_text(page, "Run history")
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Why residuals?" in nav and "Design" in nav and "why residuals" not in nav
    assert page.get_by_text("Page not found").count() == 0


def test_preset_url_shows_its_totals_and_controls_update_them(server, page):
    page.goto(f"{server}/?preset=resnet50")
    expect_text(page, "25,557,032")
    expect_text(page, "Verified")
    classes = page.get_by_label("Classes")
    classes.fill("10")
    classes.press("Enter")
    expect_text(page, "23,528,522", timeout=5_000)  # 2048 x 10 + 10 classifier instead of 2,049,000
    assert re.search(r"classes=10", page.url) and "preset=resnet50" in page.url


def test_diagram_renders(server, page):
    page.goto(f"{server}/?preset=d2l-resnet18")
    svg = page.locator('[data-testid="stGraphVizChart"] svg').first
    svg.wait_for(timeout=30_000)
    text = svg.text_content()
    assert "layer2.0" in text and "1x1 projection (128, /2)" in text and "64x24x24" in text


def test_a_click_on_the_diagram_looks_inside_the_block_and_zoom_scales_it(server, page):
    page.goto(f"{server}/?preset=d2l-resnet18")
    chart = page.locator('[data-testid="stGraphVizChart"] svg').first
    chart.wait_for(timeout=30_000)
    block = chart.locator('g.node[id="layer2.0"]')
    block.click()
    expect_text(page, "conv2: 3×3×128×128 + 128 = 147,584")
    expect_text(page, "1x1 projection: x 64x24x24 → 1x1/2, 64->128, bias → 128x12x12, added to F(x)")
    page.get_by_text("Run a sample image through it").click()
    expect_text(page, "What layer2.0 gives for a digit, at initialisation: 128 channels of 12×12")
    page.wait_for_function(
        """() => document.querySelector('[data-testid="stGraphVizChart"] g.node[id="layer2.0"] path')
                 .getAttribute("stroke") === "#d9480f" """,
        timeout=10_000,
    )  # the part looked into is outlined
    width = float(chart.get_attribute("width").removesuffix("pt"))
    page.get_by_role("button", name="+").click()
    page.wait_for_function(
        f"""() => parseFloat(document.querySelector('[data-testid="stGraphVizChart"] svg').getAttribute("width"))
                 > {width * 1.2}""",
        timeout=10_000,
    )
    page.get_by_text("Left to right").click()
    page.wait_for_function(
        """() => { const svg = document.querySelector('[data-testid="stGraphVizChart"] svg');
                   return svg && svg.viewBox.baseVal.width > 3 * svg.viewBox.baseVal.height; }""",
        timeout=30_000,
    )  # wide and short


def test_the_diagram_downloads_as_svg_and_png(server, page):
    """The picture on screen, for slides: the SVG as the browser drew it, and a PNG at 3x."""
    page.goto(f"{server}/?preset=resnet20")
    page.locator('[data-testid="stGraphVizChart"] svg').first.wait_for(timeout=30_000)
    buttons = page  # the diagram's own toolbar, in the page
    with page.expect_download(timeout=30_000) as download:
        buttons.get_by_role("button", name="Download SVG").click()
    assert download.value.suggested_filename == "resnet20.svg"
    svg = Path(download.value.path()).read_text()
    assert svg.startswith("<svg") and "layer1.0" in svg and "zero-pad (+16 ch, /2)" in svg
    width = float(re.search(r'<svg[^>]* width="([\d.]+)"', svg).group(1))
    with page.expect_download(timeout=30_000) as download:
        buttons.get_by_role("button", name="Download PNG").click()
    png = Path(download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and abs(int.from_bytes(png[16:20], "big") - 3 * width) <= 1


def test_spec_upload_loads_the_network(server, page, tmp_path):
    page.goto(f"{server}/")
    expect_text(page, "11,178,378")
    page.get_by_text("Import / export", exact=True).first.click()
    path = tmp_path / "resnet20.json"
    path.write_text(json.dumps(json.loads(__import__("explorer").preset("resnet20").to_json())))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
    expect_text(page, "269,722")
    bad = tmp_path / "bad.json"
    bad.write_text('{"stages": [{"chanels": 3}]}')
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(bad))
    expect_text(page, "did you mean 'channels'")
    expect_text(page, "269,722")  # the last good network stays


def test_a_checkpoint_opens_as_its_network_and_exports_to_onnx(server, page, tmp_path):
    """A timm resnet10t state_dict saved with torch.save: the page names it, loads its design,
    builds the ONNX file with its weights, reads a picture with it, offers to train from it;
    a truncated file gets one sentence."""
    import torch
    from playwright.sync_api import expect

    import explorer
    from explorer.arch.presets import FAMILY

    path = tmp_path / "mine.pth"
    torch.save(explorer.build_model(FAMILY["resnet10t"]).state_dict(), path)
    page.goto(f"{server}/")
    expect_text(page, "11,178,378")
    page.get_by_text("Import / export", exact=True).first.click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(path))
    expect_text(page, "mine.pth is resnet10t with 1,000 classes, 5,435,488 parameters", timeout=60_000)
    expect_text(page, "5,435,488")  # the totals: the design is the checkpoint's now
    expect_text(page, "Verified against timm's resnet10t")
    page.get_by_role("button", name="Build the ONNX file").click()
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name=re.compile(r"Download net\.onnx \(.*the weights of mine\.pth\)")).click()
    assert download.value.suggested_filename == "net.onnx"
    from PIL import Image

    Image.new("RGB", (300, 200), (200, 40, 40)).save(tmp_path / "red.png")  # its five likeliest classes
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(2).set_input_files(str(tmp_path / "red.png"))
    expect_text(page, "As mine.pth gets it: 224 px")
    expect(page.locator('[data-testid="stDataFrame"]').last).to_be_visible()
    page.get_by_role("link", name="Train this network").click()  # the design's runs may start from it
    expect_text(page, "Start from the weights of mine.pth")
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Design", exact=True).click()
    page.get_by_text("Import / export", exact=True).first.click()
    (tmp_path / "cut.pth").write_bytes(path.read_bytes()[:4096])
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(tmp_path / "cut.pth"))
    expect_text(page, "cut.pth: weights: cut.pth is truncated or not a PyTorch checkpoint")
    expect_text(page, "5,435,488")  # the last good design stays


def _choose(page, label: str, option: str) -> None:
    """Open a selectbox and pick an option by typing it (the long lists are virtualised)."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()


def _start_digits_run(server, page, epochs: int, batch_size: int | None = None, button: str = "Start") -> None:
    """From the Train page: resnet-mini on the offline digits, started (or range-tested)."""
    from playwright.sync_api import expect

    page.goto(f"{server}/train")
    expect_text(page, "Run history")
    _choose(page, "Network", "resnet-mini")
    epochs_box = page.get_by_label("Epochs")
    expect(epochs_box).to_have_value("5", timeout=15_000)  # the CPU recipe arrived with the network
    _choose(page, "Dataset", "Digits (offline)")
    epochs_box.fill(str(epochs))
    if batch_size:
        page.get_by_label("Batch size").fill(str(batch_size))
    page.get_by_role("button", name=button, exact=True).click()


ELAPSED = re.compile(r"elapsed [\d.:]+")  # "elapsed 3.2 s", "elapsed 1:05"


def test_training_streams_curves_and_stops(server, page):
    _start_digits_run(server, page, epochs=200, batch_size=32)
    expect_text(page, "Training on cpu", timeout=60_000)
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=30_000)
    first = page.get_by_text(ELAPSED).first.inner_text()
    deadline = time.time() + 30
    while time.time() < deadline and page.get_by_text(ELAPSED).first.inner_text() == first:
        time.sleep(0.3)
    assert page.get_by_text(ELAPSED).first.inner_text() != first  # it streams
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 3
    page.set_viewport_size({"width": 1024, "height": 768})  # a projector in lecture mode, during the run:
    page.goto(page.url + "&lecture=1")  # the form folds away: the run's progress and Stop on the first screen
    expect_text(page, "Network and recipe")
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=30_000)
    assert progress.bounding_box()["y"] + progress.bounding_box()["height"] < 768
    assert not page.get_by_text("Learning rate", exact=True).is_visible()  # folded, not drawn open
    page.get_by_role("button", name="Stop").click()
    expect_text(page, "Stopped: stopped at step", timeout=30_000)
    assert "job=" in page.url
    page.reload()  # a new session: it reattaches to the run named in the URL
    expect_text(page, "Stopped: stopped at step", timeout=30_000)
    with page.expect_download() as download:  # the weights learned before the stop are kept
        page.get_by_role("button", name=re.compile(r"^Weights \(")).click()
    assert re.fullmatch(r"run-\d+\.pt", download.value.suggested_filename)


def test_a_range_test_puts_its_learning_rate_into_the_form(server, page):
    from playwright.sync_api import expect

    _start_digits_run(server, page, epochs=5, batch_size=64, button="Find a learning rate")
    expect_text(page, "Loss as the learning rate grows", timeout=120_000)
    use = page.get_by_role("button", name=re.compile(r"^Use lr "))
    use.wait_for(timeout=120_000)
    suggested = float(use.inner_text().removeprefix("Use lr "))
    assert 1e-5 < suggested < 10
    use.click()
    expect(page.get_by_label("Learning rate")).to_have_value(f"{suggested:.4f}", timeout=15_000)
    _history_row(page, 0)  # the test, in the history: its curve against the learning rate
    expect_text(page, "Range tests: smoothed loss as the learning rate grows")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_trained_network_reads_an_uploaded_picture(server, page, tmp_path):
    import numpy as np
    from PIL import Image, ImageDraw
    from playwright.sync_api import expect

    _start_digits_run(server, page, epochs=2)
    expect_text(page, "Completed: test accuracy", timeout=120_000)
    drawing = Image.new("RGB", (240, 240), "white")  # a "1" in dark ink on paper
    ImageDraw.Draw(drawing).rectangle((105, 30, 135, 210), fill="black")
    drawing.save(tmp_path / "one.png")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(tmp_path / "one.png"))
    expect_text(page, "It says")
    assert page.get_by_role("switch", name="Invert it").is_checked()  # the digits are light on black
    page.get_by_text("As the network gets it: 8 px").wait_for()
    assert page.locator('[data-testid="stPlotlyChart"]').filter(has_text="What the network says").count() == 1
    page.get_by_role("button", name="A random test image").click()  # the last asked for is shown
    expect_text(page, "the test set says")
    expect_text(page, "(Grad-CAM, 2×2)")  # where it found the class it names
    expect_text(page, "stem: 16 channels of 8×8")  # inside the network, stage by stage
    page.get_by_role("radiogroup", name="Part").get_by_text("layer2").click()
    expect_text(page, "layer2: 32 channels of 4×4")
    maps = page.get_by_text("layer2: 32 channels").locator("xpath=preceding::img[1]")  # drawn above it
    assert maps.evaluate("img => img.naturalWidth") > 700  # two rows of eight 4x4 maps, enlarged
    noise = np.random.default_rng(0).integers(0, 256, (800, 1200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "photo.png")  # ~2.9 MB: over the 1 MB a spec file may have
    assert (tmp_path / "photo.png").stat().st_size > 2_000_000
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(tmp_path / "photo.png"), timeout=60_000)
    expect_text(page, "photo.png")
    expect(page.get_by_text("the test set says")).to_have_count(0, timeout=30_000)  # the photo is shown now
    expect_text(page, "It says")
    (tmp_path / "notes.png").write_text("not a picture")  # an error, not a traceback
    uploader.set_input_files(str(tmp_path / "notes.png"), timeout=60_000)
    expect_text(page, "notes.png cannot be tried: it is not a picture in a format this app reads (PNG, JPEG")
    assert page.locator('[data-testid="stException"]').count() == 0


def _history_row(page, row: int) -> None:
    """Tick a row of the run history (a canvas grid: its checkboxes are clicked where they are drawn).
    It is the Train page's first table; the table of what differs comes after it."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 * (row + 1) + 17)  # rows of 35 px under the header


def test_history_overlays_opens_and_deletes_runs(server, page):
    from playwright.sync_api import expect

    for epochs in (2, 1):
        _start_digits_run(server, page, epochs=epochs)
        expect_text(page, "Completed: test accuracy", timeout=120_000)
    first = int(re.search(r"job=(\d+)", page.url).group(1))  # the newer run, on screen; row 0 of the history
    _history_row(page, 0)
    expect_text(page, "Delete 1 selected run(s)")  # each tick reruns the page: one at a time
    _history_row(page, 1)
    expect_text(page, "What differs between the selected runs")
    page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Test accuracy").first.wait_for()
    _history_row(page, 0)  # only the older run is left selected
    page.get_by_role("button", name=f"Open run {first - 1}").click()  # waits for the button to be drawn
    expect_text(page, f"Run {first - 1}: resnet-mini")
    assert f"job={first - 1}" in page.url
    expect_text(page, "Try it on an image")
    assert page.get_by_role("button", name=f"Open run {first - 1}").count() == 0  # it is open
    page.get_by_role("button", name="Delete 1 selected run(s)").click()  # still the one selected
    page.wait_for_url(lambda url: "job=" not in url)  # the run on show was deleted: its view closes
    expect(page.get_by_text(f"Run {first - 1}: resnet-mini")).to_have_count(0)  # once the rerun has drawn


def test_lecture_mode_enlarges_and_folds_the_controls(server, page):
    page.goto(f"{server}/why-residuals?lecture=1")
    expect_text(page, "Why residuals?")
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
    page.wait_for_function(  # the normal size is 36 px; lecture mode makes the numbers ~60 px
        "() => parseFloat(getComputedStyle(document.querySelector('[data-testid=stMetricValue]')).fontSize) >= 48",
        timeout=10_000,
    )
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_attribute("data-collapsed") == "true"
    assert sidebar.evaluate("e => e.getBoundingClientRect().right") <= 0  # folded away entirely
    page.get_by_role("tab", name="Build a block").click()
    expect_text(page, "Step 1: x (the block's input)")


# Streamlit cuts text that does not fit (metric values and labels, button labels) with an ellipsis
CUT_TEXT = """() => [...document.querySelectorAll('[data-testid=stMain] *')]
  .filter(n => getComputedStyle(n).textOverflow === 'ellipsis' && n.scrollWidth > n.clientWidth + 1)
  .map(n => n.innerText.trim()).filter(Boolean)"""


def test_nothing_is_cut_off_on_a_projector(server, page):
    """1024 px and lecture-mode type: a run's numbers, its download buttons, and the labels and
    buttons of Why residuals? wrap or fit instead of ending in '…'; the stage tables of the Design
    and Compare pages show all their columns."""
    _start_digits_run(server, page, epochs=1)
    expect_text(page, "Completed: test accuracy", timeout=120_000)
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(page.url + "&lecture=1")
    expect_text(page, "Network (spec.json)", timeout=30_000)
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert len(values) == 4 and any("%" in v for v in values)
    assert page.evaluate(CUT_TEXT) == []
    page.goto(f"{server}/why-residuals?lecture=1")
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
    assert page.evaluate(CUT_TEXT) == []
    for tab, heading in [
        ("Gradient flow", "Gradients at initialisation"),
        ("Degradation", "Deeper plain networks train worse"),
        ("BN and the learning rate", "Does batch norm let you use"),
    ]:
        page.get_by_role("tab", name=tab).click()
        expect_text(page, heading)
        page.get_by_role("button").last.wait_for()  # the tab's controls are drawn
        assert page.evaluate(CUT_TEXT) == [], tab
    page.goto(f"{server}/?lecture=1")  # the stage table beside the diagram: all five columns in view
    assert _tables_scrolling_sideways(page) == []
    page.goto(f"{server}/compare")  # the sidebar open: the seven columns of both networks' stages
    expect_text(page, "Highlighted: stages whose")
    assert _tables_scrolling_sideways(page) == []


def test_why_residuals_tabs_all_show_at_150_percent_in_lecture_mode(server, browser):
    """1024x768 at 150% zoom is a 683-px page: in lecture type the six tabs wrap onto two rows
    instead of hiding "Build a block" and "Quiz" behind a scroll arrow."""
    context = browser.new_context(viewport={"width": 683, "height": 512}, device_scale_factor=1.5)
    page = context.new_page()
    page.goto(f"{server}/why-residuals?lecture=1")
    page.get_by_role("tab", name="Quiz").wait_for(timeout=30_000)
    sizes = page.evaluate(
        "() => [...document.querySelectorAll('[role=tablist]')].map(e => [e.scrollWidth, e.clientWidth])"
    )
    assert sizes and all(scroll <= client for scroll, client in sizes), sizes
    page.get_by_role("tab", name="Quiz").click()
    expect_text(page, "Predict, then reveal")
    context.close()


def test_the_diagram_keeps_its_size_at_150_percent(server, browser):
    """1024x768 at 150% without lecture mode: the diagram and the stage table stack, so the
    diagram's labels keep their size (6 CSS px when squeezed beside the table, now 12) and the
    table shows every column; a click on a block brings its stacked panel on screen."""
    context = browser.new_context(viewport={"width": 683, "height": 512}, device_scale_factor=1.5)
    page = context.new_page()
    page.goto(f"{server}/")
    page.locator('[data-testid="stGraphVizChart"] svg text').first.wait_for(timeout=30_000)
    label = page.evaluate(
        "() => document.querySelector('[data-testid=stGraphVizChart] svg text').getBoundingClientRect()"
    )
    assert label["height"] >= 15, label  # the text's box: about 12-px type
    assert _tables_scrolling_sideways(page) == []
    # the look-inside panel is stacked below the diagram here: a click brings it on screen
    page.locator('[data-testid="stGraphVizChart"] svg g.node[id="layer2.0"]').click()
    expect_text(page, "3×3×128×128 + 128 = 147,584")
    page.wait_for_function(
        """() => { const top = document.querySelector('.st-key-d_look_panel').getBoundingClientRect().top;
                   return top >= -5 && top < window.innerHeight / 2; }""",
        timeout=10_000,
    )
    context.close()


def _tables_scrolling_sideways(page) -> list[int]:
    """How far each table of the page's main area scrolls sideways; empty when none does."""
    page.locator('[data-testid="stMain"] [data-testid="stDataFrame"] .dvn-scroller').first.wait_for(timeout=30_000)
    widths = page.evaluate(
        "() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stDataFrame] .dvn-scroller')]"
        ".map(e => e.scrollWidth - e.clientWidth)"
    )
    return [w for w in widths if w > 0]


def test_students_cannot_stop_or_delete_each_others_runs_and_the_lecturer_can(hall_server, browser):
    from playwright.sync_api import expect

    def session():
        return browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

    def leave(page):  # one browser less drawing live curves on two cores
        assert page.locator('[data-testid="stException"]').count() == 0
        page.context.close()

    alice = session()
    _start_digits_run(hall_server, alice, epochs=300, batch_size=16)
    expect(alice.get_by_role("button", name="Stop")).to_be_visible(timeout=60_000)  # hers
    job = re.search(r"job=(\d+)", alice.url).group(1)
    assert re.search(r"key=[\w-]{16}", alice.url)  # her reattach link carries the key
    leave(alice)
    bob = session()
    bob.goto(f"{hall_server}/train?job={job}")  # the link without the key
    expect_text(bob, "Another session's run: shown read-only.")
    expect_text(bob, "Training on cpu", timeout=60_000)
    assert bob.get_by_role("button", name="Stop").count() == 0
    _history_row(bob, 0)
    expect_text(bob, "only they, or the lecturer, may delete them")
    assert bob.get_by_role("button", name=re.compile("^Delete")).count() == 0
    leave(bob)
    lecturer = session()
    lecturer.goto(f"{hall_server}/train?job={job}")
    expect_text(lecturer, "Another session's run: shown read-only.")
    key = lecturer.get_by_label("Lecturer key", exact=True).and_(lecturer.locator("input"))
    key.fill("chalk")
    key.press("Enter")
    expect_text(lecturer, "Lecturer: you may stop and delete any run")
    lecturer.get_by_role("button", name="Stop").first.click()
    expect_text(lecturer, "Stopped: stopped at step", timeout=30_000)
    _history_row(lecturer, 0)
    lecturer.get_by_role("button", name="Delete 1 selected run(s)").click()
    lecturer.wait_for_url(lambda url: "job=" not in url)
    leave(lecturer)


def test_a_follower_sees_the_lecturers_design_change_without_reloading(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    lecturer, student = context.new_page(), context.new_page()
    lecturer.goto(f"{server}/?preset=resnet18")
    expect_text(lecturer, "11,689,512")
    student.goto(f"{server}/?follow=1")
    expect_text(student, "Following the lecturer")
    expect_text(student, "11,689,512")
    lecturer.goto(f"{server}/?preset=resnet50")  # the lecturer opens another network
    expect_text(lecturer, "25,557,032")
    expect_text(student, "25,557,032", timeout=10_000)  # the follower's page changes by itself
    context.close()
