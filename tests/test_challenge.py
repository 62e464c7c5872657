"""The class challenge: its rules and board in the library, then a lecturer and two students on one
server (AppTest sessions in one process share the registry, as browser sessions of a server do)."""

import dataclasses

import pytest

from explorer import preset
from explorer.arch.share import stages_to_text
from explorer.arch.spec import SpecError
from explorer.hall.challenge import MAX_ENTRIES, ChallengeStore, check_name, entry_label, entry_params, name_key
from explorer.training.events import EpochEvent
from explorer.training.runs import RunStore

from .apptest import figure, open_app, shown
from .waits import SETTLE_SECONDS


@pytest.fixture
def board(store_location):
    """A challenge's tables on each engine (SQLite, PostgreSQL: tests/conftest.py)."""
    return ChallengeStore(RunStore(store_location))


def _finished(store: RunStore, name: str, acc: float | None, status: str = "completed") -> int:
    run_id = store.create(name, preset("resnet-mini").to_json(), "{}", "challenge 1")
    if acc is not None:
        store.record_event(run_id, EpochEvent(1, 1.0, 0.5, 1.0, acc, 100.0, 1.0, None))
    store.set_status(run_id, status)
    return run_id


def test_the_budget_counts_the_network_as_the_challenge_trains_it(board):
    task = board.start("Digits", "digits", 80_000, 30)
    assert entry_params(preset("resnet-mini"), task) == 77_754  # 1 channel, 10 classes, 8 px
    with pytest.raises(SpecError, match="this design has 269,434 parameters on Digits .offline.; the challenge allows"):
        entry_params(preset("resnet20"), task)
    # a number of steps, not of seconds: the same training for every entry, whatever the server's load
    assert task.recipe.steps == 30 and task.recipe.time_limit is None and task.recipe.dataset == "digits"
    assert task.task == (
        "best Digits (offline) test accuracy with at most 80,000 parameters after 30 training steps of 128 images"
    )


def test_an_entry_is_labelled_by_what_it_is():
    mini = preset("resnet-mini").with_input(1, 8, 8)
    assert entry_label(mini) == "resnet-mini"
    assert entry_label(dataclasses.replace(mini, residual=False)) == "resnet-mini, plain (no shortcuts)"
    assert entry_label(dataclasses.replace(mini, conv_bias=True)) == "resnet-mini (edited: 1 changes)"


def test_a_board_of_the_old_time_budget_is_replaced(tmp_path):
    import sqlite3

    path = tmp_path / "runs.sqlite"
    RunStore(path)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE challenges (id INTEGER PRIMARY KEY, title TEXT, dataset TEXT, max_params INTEGER,"
                   " seconds INTEGER, created REAL, closed REAL)")  # fmt: skip
        db.execute("INSERT INTO challenges VALUES (1, 'old', 'digits', 1000, 60, 0, NULL)")
    board = ChallengeStore(RunStore(path))
    assert board.current() is None and board.start("New", "digits", 80_000, 50).steps == 50


def test_names_entries_and_closing_are_checked(board):
    task = board.start("Digits", "digits", 80_000, 30)
    assert board.check_entry(task, "  Ada   L. ", preset("resnet-mini")) == ("Ada L.", 77_754)
    with pytest.raises(SpecError, match="display name"):
        board.check_entry(task, "   ", preset("resnet-mini"))
    for i in range(MAX_ENTRIES):
        board.enter(task, "Ada L.", 100 + i, 77_754)
    with pytest.raises(SpecError, match=f"Ada L. has entered {MAX_ENTRIES} designs"):
        board.check_entry(task, "Ada L.", preset("resnet-mini"))
    board.close()
    with pytest.raises(SpecError, match="the challenge is closed"):
        board.check_entry(board.current(), "Grace", preset("resnet-mini"))
    with pytest.raises(SpecError, match="steps"):
        board.start("Too short", "digits", 80_000, 5)
    board.reset()
    assert board.current() is None


def test_the_board_ranks_by_accuracy_then_fewer_parameters(board):
    task = board.start("Digits", "digits", 80_000, 30)
    store = board.runs
    entries = [
        ("Ada", _finished(store, "a", 0.91), 70_000),
        ("Bob", _finished(store, "b", 0.95), 77_000),
        ("Cy", _finished(store, "c", 0.95), 50_000),  # the same accuracy with fewer parameters: ahead
        ("Di", _finished(store, "d", None, "running"), 60_000),
        ("Ed", _finished(store, "e", None, "failed"), 60_000),
    ]
    for name, run_id, params in entries:
        board.enter(task, name, run_id, params)
    standings = board.standings(task)
    assert [(s.rank, s.name, s.status) for s in standings] == [
        (1, "Cy", "completed"),
        (2, "Bob", "completed"),
        (3, "Ada", "completed"),
        (None, "Di", "running"),
        (None, "Ed", "failed"),
    ]
    store.delete(entries[0][1])  # a deleted run leaves the board
    assert [s.name for s in board.standings(task)] == ["Cy", "Bob", "Di", "Ed"]
    assert ChallengeStore(RunStore(store.where)).standings(task)[0].name == "Cy"  # after a restart


@pytest.fixture
def hall(fresh, monkeypatch):
    """A lecture hall's server: a lecturer key is set, so students are not lecturers."""
    monkeypatch.setenv("RESNET_EXPLORER_LECTURER_KEY", "chalk")


def test_a_lecturer_sets_a_challenge_and_students_enter_and_are_ranked(hall):
    from ui.training import registry

    student = open_app(page="app_pages/challenge.py")
    assert any("No challenge is set yet" in i.value for i in student.info)
    assert not [e for e in student.expander if e.label.startswith("Lecturer")]  # students cannot set one

    lecturer = open_app(page="app_pages/challenge.py")
    lecturer.text_input(key="lecturer_key_typed").set_value("chalk").run()
    lecturer.text_input(key="ch_title").set_value("Digits in 40 steps")
    lecturer.selectbox(key="ch_dataset").set_value("digits")
    lecturer.number_input(key="ch_params").set_value(80_000)
    lecturer.number_input(key="ch_steps").set_value(40)
    lecturer.button(key="ch_start").click().run()
    assert not lecturer.exception and lecturer.subheader[0].value == "Digits in 40 steps"

    too_big = open_app({"preset": "resnet20"}, "app_pages/challenge.py")
    assert any("269,434 parameters on Digits (offline); the challenge allows at most 80,000" in shown(w.value)
               for w in too_big.warning)  # fmt: skip
    too_big.text_input(key="ch_name").set_value("Bob")
    too_big.button(key="ch_enter").click().run()
    assert any(shown(e.value).startswith("Not entered: max_params:") for e in too_big.error)

    ada = open_app({"preset": "resnet-mini", "residual": "0"}, "app_pages/challenge.py")
    assert any(c.value.startswith("✓ 75,002 parameters on Digits (offline)") for c in ada.caption)  # no projections
    ada.text_input(key="ch_name").set_value("Ada")
    ada.button(key="ch_enter").click().run()
    assert not ada.exception
    run = registry().store.list(experiment="challenge 1")[0]
    assert run.recipe["steps"] == 40 and run.name == "Ada: resnet-mini, plain (no shortcuts)"  # what it is
    registry().stop(run.id, None, lecturer=True)  # the step budget itself: test_train's; here, the board
    assert registry().wait(run.id, SETTLE_SECONDS)
    ada.run()
    board = ada.dataframe[0].value
    assert (
        list(board["name"]) == ["Ada"]
        and list(board["network"]) == ["resnet-mini, plain (no shortcuts)"]
        and list(board["status"]) == ["stopped"]
        and list(board["parameters"]) == [75_002]
    )
    assert board["rank"].isna().all()  # a stopped entry is listed, not ranked

    lecturer.button(key="ch_close").click().run()
    assert lecturer.subheader[0].value == "Digits in 40 steps (closed)"
    ada.run()
    assert not [b for b in ada.button if b.key == "ch_enter"]  # no entry form once closed
    lecturer.button(key="ch_reset").click().run()
    assert any("No challenge is set yet" in i.value for i in lecturer.info)


def test_an_entrys_design_opens_in_design(hall):
    spec = dataclasses.replace(preset("resnet-mini"), num_classes=10)
    store = ChallengeStore(RunStore())
    task = store.start("Digits", "digits", 80_000, 10)
    run_id = _finished(store.runs, "Ada: resnet-mini", 0.9)
    store.enter(task, "Ada", run_id, 77_754)
    viewer = open_app(page="app_pages/challenge.py")
    board = viewer.dataframe[0].value
    assert (
        list(board["rank"]) == [1]
        and list(board["test accuracy"]) == [90.0]
        and list(board["stages"]) == [stages_to_text(preset("resnet-mini").stages)]
    )
    bars = figure(viewer, "Leaderboard")["data"][0]
    assert bars["y"] == ["1. Ada"] and bars["text"] == ["90.00% · 77,754 params"]
    assert list(board["network"]) == ["resnet-mini"]
    viewer.session_state["ch_board"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    viewer.run()
    viewer.button(key="ch_open").click().run()
    assert not viewer.exception
    assert viewer.session_state["spec"] == spec and viewer.number_input(key="d_classes").value == 10


def test_the_board_axis_fits_the_entries():
    from ui.charts import leaderboard_range

    low, high = leaderboard_range([0.9917, 0.9861])
    assert 0.97 < low < 0.9861 and 0.9917 < high < 1.0  # an axis of 2 points, where 0-100% drew them equal
    assert leaderboard_range([0.5]) == [0.49, 0.505]  # one entry: a point either side
    assert leaderboard_range([0.999, 0.2])[1] == 1.0 and leaderboard_range([0.001, 0.002])[0] == 0.0


def test_the_board_polls_whether_or_not_an_entry_trains(hall):
    """The projected board finds new entries by itself: its fragment always refreshes (Streamlit's
    run_every never fires in AppTest, so the fragment's period is read off the page's element)."""
    store = ChallengeStore(RunStore())
    store.start("Digits", "digits", 80_000, 10)
    viewer = open_app({"lecture": "1"}, "app_pages/challenge.py")
    assert any("No entries yet" in c.value for c in viewer.caption)
    run_id = _finished(store.runs, "Ada: resnet-mini", 0.9)  # a student enters elsewhere
    store.enter(store.current(), "Ada", run_id, 77_754)
    from ui import challenge

    assert challenge.BOARD_POLL_SECONDS <= 1.0
    viewer.run()  # the fragment's next refresh
    assert list(viewer.dataframe[0].value["name"]) == ["Ada"]


@pytest.mark.parametrize("alias", ["Alice", "alice\u200b", "ＡＬＩＣＥ", "al\u200dice", "\u200eaLiCe", "ALICE"])
def test_names_are_compared_as_people_read_them(alias):
    assert name_key(check_name(alias)) == "alice"


def test_a_name_of_mixed_scripts_is_refused():
    with pytest.raises(SpecError) as err:
        check_name("\u0391lice")  # a Greek capital alpha, then Latin letters
    assert str(err.value) == "display name: letters of one script, please ('Αlice' mixes GREEK and LATIN)"
    assert check_name("Ἀλίκη 2") == "Ἀλίκη 2" and check_name("李 さくら") == "李 さくら"  # one script each


def test_a_name_belongs_to_whoever_entered_under_it_first(board):
    task = board.start("Digits", "digits", 80_000, 30)
    mini = preset("resnet-mini")
    board.enter(task, "Alice", 1, 77_754, person="10.0.0.7")
    for alias in ("alice", "Alice\u200b", "ＡＬＩＣＥ"):  # a classmate cannot enter under her name
        with pytest.raises(SpecError, match=r"^display name: .* is taken on this board by someone else"):
            board.check_entry(task, alias, mini, person="10.0.0.8")
    assert board.check_entry(task, "alice", mini, person="10.0.0.7") == ("alice", 77_754)  # she can, from any tab
    board.remove(task, 1)  # the lecturer takes an entry off the board
    assert board.check_entry(task, "alice", mini, person="10.0.0.8") == ("alice", 77_754)


def test_the_lecturer_removes_an_entry_from_the_board(fresh):
    store = ChallengeStore(RunStore())
    task = store.start("Digits", "digits", 80_000, 10)
    store.enter(task, "Rude name", _finished(store.runs, "Rude name: resnet-mini", 0.9), 77_754, person="10.0.0.8")
    lecturer = open_app(page="app_pages/challenge.py")  # the server's own machine, no key: the lecturer
    lecturer.session_state["ch_board"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    lecturer.run()
    lecturer.button(key="ch_remove").click().run()
    assert not lecturer.exception and store.standings(task) == []
    assert any("No entries yet" in c.value for c in lecturer.caption)
