"""The class challenge's panels: the lecturer's controls, a student's entry, the live leaderboard."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer import SpecError, fmt, spec_from_dict
from explorer.arch.presets import preset
from explorer.arch.share import closest_preset, stages_to_text
from explorer.hall.challenge import (
    BATCH_SIZE,
    MAX_ENTRIES,
    Challenge,
    ChallengeStore,
    Standing,
    entry_label,
    entry_params,
)
from explorer.training.data import DATASETS
from explorer.training.jobs import JobRegistry
from explorer.training.recipe import adapt_spec
from ui import access, chart_text, charts, state, training
from ui.lecture import lecture_requested
from ui.text import plain

# The board looks for new entries and finished runs this often, whether or not any was training when
# the page was drawn, so that a projected board shows them within 2 s by itself (measured in Chromium
# with a 1 s period on the loaded 2-core VM: 1.9 s). Twice a second in lecture mode; every 2 s on a
# student's screen, where thirty boards would otherwise cost the server thirty queries a second.
BOARD_POLL_SECONDS = 0.5
STUDENT_POLL_SECONDS = 2.0
# 300 steps of 128 images: resnet-mini trains them in about a minute on one core (benchmarks/RESULTS.md)
DEFAULT_TASK = ("Fashion-MNIST in 300 steps", "fashion-mnist", 100_000, 300)


@st.cache_resource
def _store(where: str, _jobs: JobRegistry) -> ChallengeStore:
    return ChallengeStore(_jobs.store)


def store(jobs: JobRegistry) -> ChallengeStore:
    """The challenge tables beside this server's run history (one object for all sessions: it
    holds no state but the store's engine)."""
    return _store(jobs.store.where, jobs)


def lecturer_panel(board: ChallengeStore, current: Challenge | None) -> None:
    """Set a challenge (replacing the board), close its entries, or clear it."""
    with st.expander("Lecturer: set the challenge", expanded=current is None):
        title, dataset, params, steps = DEFAULT_TASK
        with st.form("ch_set"):
            st.text_input("Title", value=title, key="ch_title", max_chars=80)
            c1, c2, c3 = st.columns(3)
            c1.selectbox("Dataset", list(DATASETS), key="ch_dataset", index=list(DATASETS).index(dataset),
                         format_func=lambda d: DATASETS[d].title)  # fmt: skip
            c2.number_input("At most parameters", min_value=1_000, max_value=100_000_000, value=params, key="ch_params")
            c3.number_input(f"Training steps (of {BATCH_SIZE} images)", min_value=10, max_value=100_000, value=steps,
                            key="ch_steps", help="The same for every entry, however busy the server is")  # fmt: skip
            started = st.form_submit_button("Start a new challenge", type="primary", key="ch_start",
                                            help="Clears the board: the entries' runs stay in the history")  # fmt: skip
        if started:
            try:
                ss = st.session_state
                board.start(ss.ch_title, ss.ch_dataset, int(ss.ch_params), int(ss.ch_steps))
            except SpecError as exc:
                st.error(f"Not started: {plain(exc)}")
            else:
                st.rerun()
        if current is not None:
            c1, c2 = st.columns(2)
            if current.open and c1.button("Close entries", key="ch_close", help="The board stays; no new entries"):
                board.close()
                st.rerun()
            if c2.button("Reset the board", key="ch_reset", help="No challenge; the entries' runs stay in the history"):
                board.reset()
                st.rerun()


def entry_panel(board: ChallengeStore, current: Challenge, jobs: JobRegistry) -> None:
    """This session's design, whether it fits the budget, and the button that enters it."""
    spec, base = state.current_spec(), state.current_base()
    st.markdown(f"**Your design**: {base}" + ("" if spec == preset(base) else " (edited)") + ".")
    try:
        params = entry_params(spec, current)
    except SpecError as exc:
        st.warning(f"Not within the challenge. {plain(exc)}")
    else:
        st.caption(f"✓ {fmt.count(params)} parameters on {DATASETS[current.dataset].title}: within the budget.")
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    c1.text_input("Display name", key="ch_name", max_chars=40, help="Shown on the board; up to "
                  f"{MAX_ENTRIES} designs each")  # fmt: skip
    if c2.button("Enter this design", type="primary", key="ch_enter", disabled=not current.open):
        _enter(board, current, jobs, spec, base)
    st.page_link("app_pages/design.py", label="Change the design", icon=":material/account_tree:")


def _enter(board: ChallengeStore, current: Challenge, jobs: JobRegistry, spec, base: str) -> None:
    try:
        name, params = board.check_entry(current, st.session_state.get("ch_name") or "", spec, access.person())
    except SpecError as exc:
        st.error(f"Not entered: {plain(exc)}")
        return
    info = DATASETS[current.dataset]
    label = entry_label(adapt_spec(spec, info, info.size)[0])  # what trains, plain or edited, not the base's name
    submitted = training.submit(jobs, [(f"{name}: {label}", spec, current.recipe)], f"challenge {current.id}")
    if submitted:
        board.enter(current, name, submitted[0], params, access.person())
        st.success(f"Entered as run {submitted[0]}: it is on the board below and trains for {current.steps:,} steps.")


def _open_in_design(spec: dict) -> None:
    design = spec_from_dict(spec)
    state.load_into_widgets(design, closest_preset(design))


def _frame(standings: list[Standing]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [s.rank for s in standings],
            "name": [s.name for s in standings],
            "network": [entry_label(spec_from_dict(s.spec)) for s in standings],
            "test accuracy": [s.test_acc * 100 if s.test_acc is not None else None for s in standings],
            "parameters": [s.params for s in standings],
            "status": [s.status for s in standings],
            "stages": [stages_to_text(spec_from_dict(s.spec).stages) for s in standings],
            "run": [s.run_id for s in standings],
        }
    )


def leaderboard(board: ChallengeStore, current: Challenge) -> None:
    """The board, live while entries train: a bar per ranked entry, the table with every entry;
    selecting a row offers to open its design."""

    @st.fragment(run_every=BOARD_POLL_SECONDS if lecture_requested() else STUDENT_POLL_SECONDS)
    def live() -> None:
        rows = board.standings(current)
        if not rows:
            st.caption("No entries yet.")
            return
        ranked = [s for s in rows if s.rank is not None]
        if ranked:
            chart_text.plot(st, charts.leaderboard(ranked), "ch_chart")
        picked = st.dataframe(
            _frame(rows),
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key="ch_board",
            placeholder="—",
            column_config={
                "test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
                "parameters": st.column_config.NumberColumn(format="localized"),
            },
        )
        chosen = picked.selection.rows
        if chosen:
            entry = rows[chosen[0]]
            if st.button(f"Open {plain(entry.name)}'s design in Design", key="ch_open", icon=":material/account_tree:"):
                _open_in_design(entry.spec)
                st.switch_page("app_pages/design.py")
            if access.is_lecturer() and st.button(
                f"Remove {plain(entry.name)}'s entry", key="ch_remove", icon=":material/delete:",
                help="Off the board (a rude name, say); its run stays in the history",
            ):  # fmt: skip
                board.remove(current, entry.run_id)
                st.rerun()
        else:
            st.caption("Select a row to open that entry's design.")

    live()
    if access.is_lecturer():
        st.caption("As the lecturer you may stop or delete any entry's run on the Train page.")
