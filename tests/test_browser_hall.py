"""A lecture hall in a real browser: students own their runs, the lecturer may stop and delete any, and
the projected challenge board finds entries by itself. (Apart from test_browser_train.py so that the
two test processes share the browser tests' minutes.)"""

import re

from explorer.hall.identity import COOKIE
from explorer.hall.key_tries import MAX_WRONG
from tests.browser import MARKS, choose, expect_text, history_row, start_digits_run, stop_button

pytestmark = MARKS


def test_students_cannot_stop_or_delete_each_others_runs_and_the_lecturer_can(hall_server, browser):
    from playwright.sync_api import expect

    def session():
        return browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

    def leave(page):  # one browser less drawing live curves on two cores
        assert page.locator('[data-testid="stException"]').count() == 0
        page.context.close()

    alice = session()
    start_digits_run(hall_server, alice, epochs=300, batch_size=16)
    expect(stop_button(alice)).to_be_visible(timeout=60_000)  # hers
    job = re.search(r"job=(\d+)", alice.url).group(1)
    assert re.search(r"key=[\w-]{16}", alice.url)  # her reattach link carries the key
    tab = alice.context.new_page()  # her second tab, opened on the link without the key: still hers
    tab.goto(f"{hall_server}/train?job={job}")
    expect(stop_button(tab)).to_be_visible(timeout=60_000)
    assert tab.get_by_text("Another person's run").count() == 0
    leave(alice)
    bob = session()
    bob.goto(f"{hall_server}/train?job={job}")  # the link without the key
    expect_text(bob, "Another person's run: shown read-only.")
    expect_text(bob, "Training on cpu", timeout=60_000)
    assert stop_button(bob).count() == 0
    history_row(bob, 0)
    expect_text(bob, "only they, or the lecturer, may delete them")
    assert bob.get_by_role("button", name=re.compile("^Delete")).count() == 0
    leave(bob)
    lecturer = session()
    lecturer.goto(f"{hall_server}/train?job={job}")
    expect_text(lecturer, "Another person's run: shown read-only.")
    key = lecturer.get_by_label("Lecturer key", exact=True).and_(lecturer.locator("input"))
    key.fill("chalk")
    key.press("Enter")
    expect_text(lecturer, "Lecturer: you may stop and delete any run")
    stop_button(lecturer).click()
    expect_text(lecturer, "Stopped: stopped at step", timeout=30_000)
    history_row(lecturer, 0)
    lecturer.get_by_role("button", name="Delete 1 selected run(s)").click()
    lecturer.wait_for_url(lambda url: "job=" not in url)
    leave(lecturer)


def test_a_browsers_tabs_are_one_person_and_another_browser_is_another(hall_server, browser):
    """Issue 22: every new tab was a new person. On the server's own machine wrong lecturer keys are
    counted per person: a second tab of the guesser's browser (which shares its cookies) waits too,
    another browser does not."""
    from playwright.sync_api import expect

    guesser = browser.new_context(viewport={"width": 1280, "height": 900})
    first = guesser.new_page()
    first.goto(f"{hall_server}/challenge")
    key = first.get_by_label("Lecturer key", exact=True).and_(first.locator("input"))
    for guess in range(MAX_WRONG):
        key.fill(f"guess{guess}")
        key.press("Enter")
        expect(key).to_have_value("")  # the key was checked (and the box emptied)
    waiting = f"{MAX_WRONG} wrong keys within a minute from this computer"
    expect_text(first, waiting)
    (cookie,) = [c for c in guesser.cookies() if c["name"] == COOKIE]
    assert (cookie["path"], cookie["sameSite"], cookie["expires"] > 0) == ("/", "Lax", True)
    second = guesser.new_page()
    second.goto(f"{hall_server}/challenge")
    expect_text(second, waiting)  # the same person
    other = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    other.goto(f"{hall_server}/challenge")
    other_key = other.get_by_label("Lecturer key", exact=True).and_(other.locator("input"))
    other_key.fill("guess")
    other_key.press("Enter")
    expect_text(other, "That is not the lecturer key.")  # another person: their key was compared
    assert other.get_by_text(waiting).count() == 0
    guesser.close()
    other.context.close()


def test_the_projected_board_shows_entries_and_results_by_itself(server, browser):
    """The lecturer's board, projected, finds a student's new entry and then its result with no click
    (it refreshes every second, whether or not an entry was training when it was drawn)."""
    from playwright.sync_api import expect

    lecturer = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    lecturer.goto(f"{server}/challenge")
    expect_text(lecturer, "Start a new challenge")
    lecturer.get_by_label("Title").fill("Digits in 10 steps")
    choose(lecturer, "Dataset", "Digits (offline)")
    lecturer.get_by_role("spinbutton", name="Training steps (of 128 images)").fill("10")
    lecturer.get_by_role("button", name="Start a new challenge").click()
    expect_text(lecturer, "No entries yet.")
    lecturer.goto(f"{server}/challenge?lecture=1")  # projected: the board first
    expect_text(lecturer, "No entries yet.")
    student = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    student.goto(f"{server}/challenge?preset=resnet-mini")
    expect_text(student, "within the budget")
    student.get_by_role("textbox", name="Display name").fill("Ada")
    student.get_by_role("button", name="Enter this design").click()
    expect_text(student, "Entered as run")
    # the board polls twice a second when projected: 2 s at most on a quiet machine, a generous 6 s here
    expect(lecturer.get_by_text("Ada").first).to_be_attached(timeout=6_000)  # a canvas table's hidden cell
    expect(lecturer.get_by_text("1. Ada").first).to_be_attached(timeout=120_000)  # ranked once it finished
    lecturer.context.close()
    student.context.close()
