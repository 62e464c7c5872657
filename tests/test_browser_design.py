"""The Design page in a real browser: its diagram, checkpoints, following the lecturer.

`streamlit run app.py` driven by Playwright in Debian's Chromium (tests/browser.py)."""

import json
import re
from pathlib import Path

import explorer
from tests.browser import (
    MARKS,
    expect_text,
    tables_scrolling_sideways,
)

pytestmark = MARKS


def test_first_visitor_of_a_fresh_server_deep_links_into_the_router(server, page):
    """A bookmark to /train must get the app's own menu and layout even as the server's first page."""
    page.goto(f"{server}/train?lecture=0")
    expect_text(page, "Run history", timeout=60_000)  # a first visit may wait for the workers on a busy machine
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


DIAGRAM = ".rx-diagram svg"  # ui/diagram_view.py's component holds the server-drawn SVG
PART = DIAGRAM + ' g.part[data-part="{}"]'
SIZES = """() => { const svg = document.querySelector('.rx-diagram svg');
  return {width: svg.getBoundingClientRect().width, box: document.querySelector('.rx-diagram .canvas').clientWidth,
          vw: svg.viewBox.baseVal.width, vh: svg.viewBox.baseVal.height}; }"""


def _picked(page, part: str) -> None:
    page.wait_for_function(
        f"""() => document.querySelector('{DIAGRAM} g.part.picked')?.dataset.part === "{part}" """, timeout=10_000
    )


def test_the_diagram_by_mouse_and_keyboard_zoomed_fitted_and_left_to_right(server, page):
    """Its text from the plan; a click looks inside a block; Tab reaches the parts, the arrows move
    between them with a visible focus, Enter opens one; + zooms; Fit fills the width (enlarging);
    left to right fits the width too."""
    page.goto(f"{server}/?preset=d2l-resnet18")
    svg = page.locator(DIAGRAM).first
    svg.wait_for(timeout=30_000)
    text = svg.text_content()
    assert "layer2.0" in text and "1x1 projection(128, /2)" in text and "64x24x24" in text
    page.locator(PART.format("layer2.0")).click()
    expect_text(page, "conv2: 3×3×128×128 + 128 = 147,584")
    expect_text(page, "1x1 projection: x 64x24x24 → 1x1/2, 64->128, bias → 128x12x12, added to F(x)")
    _picked(page, "layer2.0")  # the part looked into is outlined
    page.get_by_text("Run a sample image through it").click()
    expect_text(page, "What layer2.0 gives for a digit, at initialisation: 128 channels of 12×12")
    page.locator(PART.format("layer2.0")).focus()
    page.keyboard.press("ArrowDown")
    focus = page.evaluate(
        "() => [document.activeElement.dataset.part, getComputedStyle(document.activeElement.querySelector('rect'))"
        ".strokeWidth]"
    )
    assert focus == ["layer2.1", "4px"]  # the next block, its focus drawn
    page.keyboard.press("Enter")
    _picked(page, "layer2.1")
    before = page.evaluate(SIZES)
    page.get_by_role("button", name="Zoom in").click()
    assert page.evaluate(SIZES)["width"] > 1.1 * before["width"]  # 75% to 85%
    page.get_by_role("button", name="Fit").click()
    fitted = page.evaluate(SIZES)
    assert fitted["width"] > before["width"] and abs(fitted["width"] - fitted["box"]) <= 3  # enlarged to the width
    page.get_by_text("Left to right").click()
    page.wait_for_function(
        f"() => {{ const s = document.querySelector('{DIAGRAM}')?.viewBox.baseVal; return s?.width > 3 * s?.height; }}",
        timeout=30_000,
    )  # wide and short, and within the width
    across = page.evaluate(SIZES)
    assert abs(across["width"] - across["box"]) <= 3, across


def test_the_diagram_downloads_as_svg_and_png(server, page):
    """The picture on screen, for slides: the SVG as the browser drew it, and a PNG at 3x."""
    page.goto(f"{server}/?preset=resnet20")
    page.locator(DIAGRAM).first.wait_for(timeout=30_000)
    buttons = page  # the diagram's own toolbar, in the page
    with page.expect_download(timeout=30_000) as download:
        buttons.get_by_role("button", name="Download SVG").click()
    assert download.value.suggested_filename == "resnet20.svg"
    svg = Path(download.value.path()).read_text()
    assert svg.startswith("<svg") and "layer1.0" in svg and ">zero-pad</text>" in svg and ">(+16 ch, /2)</text>" in svg
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


def test_on_a_projector_at_150_percent_the_diagram_is_read_from_the_back(server, browser):
    """1024x768 at 150%, lecture mode: the first screen holds the totals and the diagram's top; its
    text is at least the page's paragraph size; the stage table shows every column; a click on
    layer3.0 brings its panel (stacked below) on screen. Without lecture mode the text stays 12 px."""
    context = browser.new_context(viewport={"width": 683, "height": 512}, device_scale_factor=1.5)
    page = context.new_page()
    page.goto(f"{server}/?lecture=1&preset=resnet50")
    page.locator(DIAGRAM + " text").first.wait_for(timeout=30_000)
    sizes = page.evaluate(
        """() => ({text: parseFloat(getComputedStyle(document.querySelector('.rx-diagram g.part text')).fontSize)
                   * document.querySelector('.rx-diagram svg').getBoundingClientRect().width
                   / document.querySelector('.rx-diagram svg').viewBox.baseVal.width,
                   paragraph: 1.25 * parseFloat(getComputedStyle(document.documentElement).fontSize),
                   top: document.querySelector('.rx-diagram svg').getBoundingClientRect().top,
                   totals: document.querySelector('[data-testid=stMetricValue]').getBoundingClientRect().bottom})"""
    )
    assert sizes["text"] >= sizes["paragraph"] - 0.1 and sizes["paragraph"] >= 22, sizes
    assert sizes["totals"] < sizes["top"] < 512 - 100, sizes  # both on the first screen, 100 px of diagram
    assert tables_scrolling_sideways(page) == []
    page.locator(PART.format("layer3.0")).click()
    expect_text(page, "3×3×256×256 = 589,824")
    page.wait_for_function(
        """() => { const top = document.querySelector('.st-key-d_look_panel').getBoundingClientRect().top;
                   return top >= -5 && top < window.innerHeight / 2; }""",
        timeout=10_000,
    )
    page.goto(f"{server}/?lecture=0&preset=resnet50")
    page.locator(DIAGRAM + " text").first.wait_for(timeout=30_000)
    label = page.evaluate(f"() => document.querySelector('{DIAGRAM} text').getBoundingClientRect()")
    assert label["height"] >= 10, label  # about 12-px type
    context.close()


def test_beside_a_long_diagram_the_panel_stays_on_screen(server, page):
    """1280x800: after a click on layer4.0, far down a ResNet-50, its panel is on screen beside it."""
    page.goto(f"{server}/?preset=resnet50")
    block = page.locator(PART.format("layer4.0"))
    block.click()
    expect_text(page, "3×3×512×512 = 2,359,296")
    boxes = page.evaluate(
        f"""() => [document.querySelector('.st-key-d_look_panel').getBoundingClientRect().top,
                   document.querySelector('{PART.format("layer4.0")}').getBoundingClientRect().top, innerHeight]"""
    )
    assert 0 <= boxes[0] < boxes[2] / 2 and 0 <= boxes[1] < boxes[2], boxes


def test_a_follower_sees_the_lecturers_changes_within_a_second_and_a_reload_follows_on(server, browser):
    """Two pages: the lecturer's design changes and page change reach the student's page within a
    second (the median of three design changes and a page change; each woken at once, not at its
    next poll), and a reload keeps following."""
    import statistics
    import time

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    lecturer, student = context.new_page(), context.new_page()
    lecturer.goto(f"{server}/?preset=resnet18")
    expect_text(lecturer, "11,689,512")
    student.goto(f"{server}/?follow=1")
    expect_text(student, "Following the lecturer")
    expect_text(student, "11,689,512")
    seconds = []
    classes = lecturer.get_by_label("Classes")
    for count in (11, 12, 13):
        total = f"{explorer.analyze(explorer.preset('resnet18').with_classes(count)).total_params:,}"
        classes.fill(str(count))
        start = time.perf_counter()
        classes.press("Enter")
        student.wait_for_function(
            "t => [...document.querySelectorAll('[data-testid=stMetricValue]')].some(m => m.innerText === t)",
            arg=total,
            polling="raf",
            timeout=10_000,
        )
        seconds.append(time.perf_counter() - start)
    lecturer.locator('[data-testid="stSidebarNav"]').get_by_text("Compare", exact=True).click()
    lecturer.get_by_text("Compare two networks").wait_for(timeout=30_000)
    start = time.perf_counter()  # from the lecturer's new page on screen (its first visit may take seconds)
    student.get_by_text("Compare two networks").wait_for(timeout=10_000)
    seconds.append(time.perf_counter() - start)  # a page change: the wake, then the switch
    assert statistics.median(seconds) < 1.0, seconds  # three design changes and a page change
    assert "follow=1" in student.url
    student.reload()
    expect_text(student, "Following the lecturer")
    context.close()
