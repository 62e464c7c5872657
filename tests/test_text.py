"""Text stays text (issue 22): names, titles, file names and link values are escaped before
Streamlit renders Markdown and KaTeX, and before Plotly renders its bits of HTML."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from explorer import preset
from explorer.hall.challenge import ChallengeStore
from explorer.training.events import EpochEvent
from explorer.training.runs import RunStore
from ui.text import plain, plotly_text

from .apptest import figure, open_app

LINK = "[Lecturer solutions](http://evil.example) ![](http://evil.example/i.png)"
MATH = r"$\rule{40em}{40em}$"
NAME = "<b>$x$</b>![](http://e.x/i)"  # 27 characters: within a display name's 40
# an escape is a backslash before a punctuation mark; what is left must be no Markdown at all
UNESCAPED_MARKUP = re.compile(r"(?<!\\)[\[\]()!$*_`<>]")


def test_markdown_and_katex_are_escaped_exactly():
    assert plain(LINK) == (
        r"\[Lecturer solutions\]\(http\:\/\/evil\.example\) \!\[\]\(http\:\/\/evil\.example\/i\.png\)"
    )
    assert plain(MATH) == r"\$\\rule\{40em\}\{40em\}\$"
    assert plain("# a\nb *c* :red[d]") == r"\# a b \*c\* \:red\[d\]"
    assert plotly_text(NAME) == "&lt;b&gt;$x$&lt;/b&gt;![](http://e.x/i)"


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=30))
def test_escaped_text_reads_back_as_typed(text):
    escaped = plain(text)
    assert not UNESCAPED_MARKUP.search(escaped.replace("\\\\", ""))
    assert re.sub(r"\\(.)", r"\1", escaped) == re.sub(r"[\r\n\u2028\u2029\x0b\x0c]+", " ", text)


def test_a_link_value_is_shown_as_typed(fresh):
    design = open_app({"preset": LINK})
    (warning,) = design.warning
    assert plain(repr(LINK)) in warning.value and LINK not in warning.value


def test_names_and_titles_on_the_board_and_the_train_page_stay_text(fresh):
    board = ChallengeStore(RunStore())
    task = board.start(MATH, "digits", 80_000, 10)
    run_id = board.runs.create(f"{NAME}: resnet-mini", preset("resnet-mini").to_json(), "{}", "challenge 1")
    board.runs.set_status(run_id, "failed")
    board.enter(task, NAME, run_id, 77_754)
    viewer = open_app(page="app_pages/challenge.py")
    assert viewer.subheader[0].value == plain(MATH)
    viewer.session_state["ch_board"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    viewer.run()
    assert viewer.button(key="ch_open").label == f"Open {plain(NAME)}'s design in Design"
    follower = open_app({"job": str(run_id)}, "app_pages/train.py")
    assert follower.subheader[0].value == f"Run {run_id}: {plain(NAME)}\\: resnet\\-mini"
    assert not any(UNESCAPED_MARKUP.search(s.value.replace("\\\\", "")) for s in follower.subheader)


def test_plotly_labels_do_not_render_a_names_html(fresh):
    board = ChallengeStore(RunStore())
    task = board.start("Digits", "digits", 80_000, 10)
    run_id = board.runs.create("r", preset("resnet-mini").to_json(), "{}", "challenge 1")

    board.runs.record_event(run_id, EpochEvent(1, 1.0, 0.5, 1.0, 0.9, 100.0, 1.0, None))
    board.runs.set_status(run_id, "completed")
    board.enter(task, NAME, run_id, 77_754)
    viewer = open_app(page="app_pages/challenge.py")
    assert figure(viewer, "Leaderboard")["data"][0]["y"] == [f"1. {plotly_text(NAME)}"]
