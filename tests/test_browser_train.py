"""Training in a real browser: curves, results, the history, lecture mode, a lecture hall.

`streamlit run app.py` driven by Playwright in Debian's Chromium (tests/browser.py)."""

import re

import pytest

from tests.browser import (
    CUT_TEXT,
    ELAPSED,
    MARKS,
    expect_text,
    history_row,
    start_digits_run,
    stop_button,
    tables_scrolling_sideways,
    train_stored_run,
)
from tests.waits import wait_until

pytestmark = MARKS


@pytest.fixture(scope="module")
def finished(server_home) -> int:
    """A run that has completed, in the server's history (the streaming test trains through the page)."""
    return train_stored_run(server_home, epochs=2)


def test_training_streams_curves_and_stops(server, page):
    from playwright.sync_api import expect

    start_digits_run(server, page, epochs=200, batch_size=32)
    expect_text(page, "Training on cpu", timeout=60_000)
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=30_000)
    first = page.get_by_text(ELAPSED).first.inner_text()
    assert wait_until(lambda: page.get_by_text(ELAPSED).first.inner_text() != first, 30, poll=0.3)  # it streams
    expect(page.locator('[data-testid="stPlotlyChart"]').nth(2)).to_be_attached()  # drawn under the progress
    page.set_viewport_size({"width": 1024, "height": 768})  # a projector in lecture mode, during the run:
    page.goto(page.url + "&lecture=1")  # the form folds away: the run's progress and Stop on the first screen
    expect_text(page, "Network and recipe")
    progress = page.locator('[data-testid="stProgress"]').first
    progress.wait_for(timeout=30_000)
    assert progress.bounding_box()["y"] + progress.bounding_box()["height"] < 768
    assert not page.get_by_text("Learning rate", exact=True).is_visible()  # folded, not drawn open
    stop_button(page).click()
    expect_text(page, "Stopped: stopped at step", timeout=30_000)
    assert "job=" in page.url
    page.reload()  # a new session: it reattaches to the run named in the URL
    expect_text(page, "Stopped: stopped at step", timeout=30_000)
    with page.expect_download() as download:  # the weights learned before the stop are kept
        page.get_by_role("button", name=re.compile(r"^Weights \(")).click()
    assert re.fullmatch(r"run-\d+\.pt", download.value.suggested_filename)


def test_a_range_test_puts_its_learning_rate_into_the_form(server, page):
    from playwright.sync_api import expect

    start_digits_run(server, page, epochs=5, batch_size=64, button="Find a learning rate")
    expect_text(page, "Loss as the learning rate grows", timeout=120_000)
    use = page.get_by_role("button", name=re.compile(r"^Use lr "))
    use.wait_for(timeout=120_000)
    suggested = float(use.inner_text().removeprefix("Use lr "))
    assert 1e-5 < suggested < 10
    use.click()
    expect(page.get_by_label("Learning rate")).to_have_value(f"{suggested:.4f}", timeout=15_000)
    history_row(page, 0)  # the test, in the history: its curve against the learning rate
    expect_text(page, "Range tests: smoothed loss as the learning rate grows")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_trained_network_reads_an_uploaded_picture(server, finished, page, tmp_path):
    import numpy as np
    from PIL import Image, ImageDraw
    from playwright.sync_api import expect

    page.goto(f"{server}/train?job={finished}")
    expect_text(page, "Completed: test accuracy")
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


def test_history_overlays_opens_and_deletes_runs(server, server_home, page):
    from playwright.sync_api import expect

    first = [train_stored_run(server_home, epochs) for epochs in (2, 1)][-1]  # the newer: row 0 of the history
    page.goto(f"{server}/train?job={first}")
    expect_text(page, "Completed: test accuracy")
    history_row(page, 0)
    expect_text(page, "Delete 1 selected run(s)")  # each tick reruns the page: one at a time
    history_row(page, 1)
    expect_text(page, "What differs between the selected runs")
    page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Test accuracy").first.wait_for()
    history_row(page, 0)  # only the older run is left selected
    page.get_by_role("button", name=f"Open run {first - 1}").click()  # waits for the button to be drawn
    expect_text(page, f"Run {first - 1}: resnet-mini")
    assert f"job={first - 1}" in page.url
    expect_text(page, "Try it on an image")
    expect(page.get_by_role("button", name=f"Open run {first - 1}")).to_have_count(0)  # it is open, once redrawn
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
def test_nothing_is_cut_off_on_a_projector(server, finished, page):
    """1024 px and lecture-mode type: a run's numbers, its download buttons, and the labels and
    buttons of Why residuals? wrap or fit instead of ending in '…'; the stage tables of the Design
    and Compare pages show all their columns."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{server}/train?job={finished}&lecture=1")
    expect_text(page, "Network (spec.json)", timeout=30_000)
    expect(page.locator('[data-testid="stMetricValue"]')).to_have_count(4)  # all drawn, then read
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert len(values) == 4 and any("%" in v for v in values)
    assert page.evaluate(CUT_TEXT) == []
    page.goto(f"{server}/why-residuals?lecture=1")
    page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
    assert page.evaluate(CUT_TEXT) == []
    for tab, heading in [
        ("Gradient flow", "At initialisation: plain against residual"),
        ("Degradation", "Deeper plain networks train worse"),
        ("BN and the learning rate", "Does batch norm let you use"),
    ]:
        page.get_by_role("tab", name=tab).click()
        expect_text(page, heading)
        page.get_by_role("button").last.wait_for()  # the tab's controls are drawn
        assert page.evaluate(CUT_TEXT) == [], tab
    page.goto(f"{server}/?lecture=1")  # the stage table beside the diagram: all five columns in view
    assert tables_scrolling_sideways(page) == []
    page.goto(f"{server}/?lecture=0")  # at desk size beside the wide sidebar: totals and switches wrap
    expect_text(page, "Draw every block")
    assert page.evaluate(CUT_TEXT) == []  # neither "Draw every block" nor "11,178,378" cut
    page.goto(f"{server}/compare")  # the sidebar open: the seven columns of both networks' stages
    expect_text(page, "Highlighted: the stages that differ")
    assert tables_scrolling_sideways(page) == []


def test_lecture_type_fits_a_projector_at_150_percent(server, browser):
    """1024x768 at 150% zoom is a 683-px page. In lecture type: the six tabs of Why residuals? wrap
    onto two rows instead of hiding "Build a block" and "Quiz" behind a scroll arrow; the Train form's
    boxes go two to a row (four read "Optimize r" and "constan") and what is in them is drawn near the
    labels' size; "Use that" is not cut to "Use t…"; the diagram's toolbar grows with the type."""
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
    page.goto(f"{server}/train?lecture=1")
    expect_text(page, "Estimated here")
    assert page.evaluate(CUT_TEXT) == []
    top = {label: page.get_by_label(label, exact=True).bounding_box()["y"] for label in ("Batch size", "Optimizer")}
    assert top["Optimizer"] > top["Batch size"] + 40  # the second pair, on its own row
    font_px = "e => parseFloat(getComputedStyle(e).fontSize)"
    assert page.get_by_label("Batch size", exact=True).evaluate(font_px) >= 24  # 1.1 of lecture's 22 px
    page.goto(f"{server}/?lecture=1")
    assert page.get_by_role("button", name="Fit").evaluate(font_px) >= 20  # the toolbar in rem: it grows with the page
    for lecture in ("1", "0"):  # at desk size four totals in a row would cut "11,689,512" at 683 px
        page.goto(f"{server}/compare?lecture={lecture}")
        expect_text(page, "11,689,512")
        assert page.evaluate(CUT_TEXT) == [], lecture
    context.close()
