"""The Design page in a real browser: its diagram, checkpoints, following the lecturer.

`streamlit run app.py` driven by Playwright in Debian's Chromium (tests/browser.py)."""

import json
import re
from pathlib import Path

from tests.browser import (
    MARKS,
    expect_text,
    tables_scrolling_sideways,
)

pytestmark = MARKS


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
    assert tables_scrolling_sideways(page) == []
    # the look-inside panel is stacked below the diagram here: a click brings it on screen
    page.locator('[data-testid="stGraphVizChart"] svg g.node[id="layer2.0"]').click()
    expect_text(page, "3×3×128×128 + 128 = 147,584")
    page.wait_for_function(
        """() => { const top = document.querySelector('.st-key-d_look_panel').getBoundingClientRect().top;
                   return top >= -5 && top < window.innerHeight / 2; }""",
        timeout=10_000,
    )
    context.close()


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
