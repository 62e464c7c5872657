"""The Train page's run views: the run this session follows (live, or from the store), the queue,
and the run history, each offering only what this session may do to a run (its key, or the lecturer)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from explorer import SpecError
from explorer.links import run_id
from explorer.training.data import OFFLINE_DATASET
from explorer.training.jobs import JobRegistry
from ui import access, training
from ui.text import plain


def followed_run(jobs: JobRegistry) -> int | None:
    """The run this session follows: from the session, or at its first visit from `?job=N&key=K`
    (a reload, a link). A `job` that is not a run here gets a sentence, never a traceback."""
    params = st.query_params
    if "job" in params and "t_job" not in st.session_state:
        try:
            number = run_id(params["job"])
        except SpecError:
            st.warning(f"Ignoring ?job={plain(repr(params['job'][:40]))}: not a run number.")
        else:
            if jobs.snapshot(number) is None and jobs.store.get(number) is None:
                st.warning(f"There is no run {number} here: it was deleted, or it belongs to another server.")
            else:
                st.session_state.t_job = number
                if (key := params.get("key")) and jobs.may_control(number, key, lecturer=False):
                    access.remember_key(number, key)
        if "t_job" not in st.session_state:
            for name in ("job", "key"):
                params.pop(name, None)
    return st.session_state.get("t_job")


def follow(run_id: int) -> None:
    """Follow a run, as if it had just been started or reloaded: in the session and the URL, with
    its key where this session has it (so the link reattaches with the rights it had)."""
    st.session_state.t_job = run_id
    st.query_params["job"] = str(run_id)
    if key := access.key_of(run_id):
        st.query_params["key"] = key
    else:
        st.query_params.pop("key", None)


def close_run() -> None:
    st.session_state.pop("t_job", None)
    for name in ("job", "key"):
        st.query_params.pop(name, None)


def _stop(jobs: JobRegistry, run_id: int) -> None:
    jobs.stop(run_id, *access.control(run_id))


def live_run(jobs: JobRegistry, job_id: int, running: bool, again: Callable[[int], None], use_offline) -> None:
    """The followed run: live while it trains (polled twice a second), stored once it has ended."""
    store = jobs.store

    def again_button(run_id: int) -> None:
        if not training.may_control(jobs, run_id):
            return  # read-only: another person's run
        if st.button(
            "Train again with these settings",
            key="t_again",
            on_click=again,
            args=(run_id,),
            icon=":material/replay:",
            help="Its network and recipe into the form above, to start again or change first",
        ):
            st.rerun()  # the whole page: the form is outside this fragment

    # once a second: each refresh redraws the charts in the browser, on the cores the run trains on
    if not running and (snap := jobs.snapshot(job_id)) is not None:  # its twin may still be training
        twin = training.twin_of(jobs, job_id, snap.experiment)
        running = bool(twin and twin["active"])

    @st.fragment(run_every=1.0 if running else None)
    def live() -> None:
        snap = jobs.snapshot(job_id)
        if snap is None:  # not in this server's registry: a stored run (the server restarted)
            run = store.get(job_id)
            if run is None:
                st.warning(f"Run {job_id} does not exist (deleted?).")
                return
            st.subheader(f"Run {run.id}: {plain(run.name)}")
            st.write(f"{run.status.capitalize()}: {plain(run.message)}")
            again_button(run.id)
            if run.range_test:
                training.range_test(store.steps(run.id), f"stored_{run.id}", finished=True)
                return
            training.epoch_metrics(store.epochs(run.id))
            twin = training.twin_of(jobs, run.id, run.experiment)
            training.live_curves(run.name, store.steps(run.id), store.epochs(run.id), f"stored_{run.id}", twin)
            training.results(store, run)
            return
        st.subheader(f"Run {snap.id}: {plain(snap.name)}")
        c1, c2 = st.columns([5, 1])
        c1.write(plain(training.status_line(snap)))
        if not snap.finished and training.may_control(jobs, snap.id):
            c2.button("Stop", key="t_stop", on_click=_stop, args=(jobs, snap.id), type="secondary")
        elif snap.finished and store.get(snap.id) is not None:
            again_button(snap.id)
        training.progress(snap)  # on a projector's first screen, however long the status line
        if not training.may_control(jobs, snap.id):
            st.caption("Another person's run: shown read-only.")
        for line in snap.log[-3:]:
            st.caption(plain(line))
        twin = None
        if training.range_testing(snap):
            training.range_test(snap.steps, f"live_{snap.id}", finished=snap.finished)
        else:
            training.epoch_metrics(snap.epochs)
            twin = training.twin_of(jobs, snap.id, snap.experiment)
            if twin:
                st.caption(f"Its plain twin, {plain(twin['name'])}: {twin['status']}")
            training.live_curves(snap.name, snap.steps, snap.epochs, f"live_{snap.id}", twin)
        if snap.finished and running and not (twin and twin["active"]):
            st.rerun()  # a full rerun: stop polling, show the results below
        if snap.status == "failed" and f"'{OFFLINE_DATASET}'" in snap.message:
            st.button("Train on the offline digits instead", key="t_offline", on_click=use_offline)

    live()
    snap = jobs.snapshot(job_id)
    if snap is not None and snap.finished and (run := store.get(job_id)) and not run.range_test:
        training.results(store, run)


def queue(jobs: JobRegistry) -> None:
    """Queued and running runs: the lecturer sees everyone's and may stop any; a student sees their own."""
    lecturer = access.is_lecturer()
    active = jobs.active(None if lecturer else access.owner())
    if not active:
        return
    with st.expander(f"{'Server queue' if lecturer else 'Your runs'}: {len(active)} queued or running"):
        for snap in sorted(active, key=lambda s: (s.position == 0 and s.status == "queued", s.position, s.id)):
            c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="center")
            c1.write(f"#{snap.id} {plain(snap.name)} — {plain(training.status_line(snap))}")
            c2.button("Open", key=f"t_q_open_{snap.id}", on_click=follow, args=(snap.id,))
            if training.may_control(jobs, snap.id):
                c3.button("Stop", key=f"t_q_stop_{snap.id}", on_click=_stop, args=(jobs, snap.id))


def history(jobs: JobRegistry, job_id: int | None) -> None:
    """Every stored run: overlay, CSV, open; delete where this session may."""
    store = jobs.store
    st.subheader("Run history")
    runs = store.list()
    if not runs:
        st.caption(f"No runs yet. They are kept in {store.where}.")
        return
    picked = st.dataframe(
        training.history_frame(runs),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="t_history",
        column_config=training.HISTORY_COLUMNS,
        placeholder="—",  # a range test has no epochs or lr of its own, a failed run no accuracy
    )
    chosen = [runs[i] for i in picked.selection.rows]
    if not chosen:
        st.caption(f"Select runs to overlay their curves, open one, or delete them. Stored in {store.where}.")
        return
    training.overlay(store, chosen, "t_overlay")
    actions = st.container(horizontal=True)
    actions.download_button(
        "Epochs as CSV",
        data=lambda: store.epochs_csv([r.id for r in chosen]),
        file_name="runs-" + "-".join(str(r.id) for r in chosen) + ".csv",
        mime="text/csv",
        on_click="ignore",
        key="t_csv",
        icon=":material/download:",
    )
    if len(chosen) == 1 and chosen[0].id != job_id:
        actions.button(
            f"Open run {chosen[0].id}",
            key="t_open",
            on_click=follow,
            args=(chosen[0].id,),
            icon=":material/open_in_browser:",
            help="Its results above: confusion matrix, the images it got wrong, try it on an image, downloads",
        )
    mine = [run for run in chosen if training.may_control(jobs, run.id)]
    if not mine:
        st.caption("Runs other people started are shown read-only: only they, or the lecturer, may delete them.")
        return
    if actions.button(f"Delete {len(mine)} selected run(s)", key="t_delete"):
        kept = [f"#{run.id}" for run in mine if not _delete(jobs, run.id, job_id)]
        others = len(chosen) - len(mine)
        if kept:
            st.warning(f"Not deleted, still queued or training: {', '.join(kept)}. Stop it first.")
        elif others:
            st.info(f"Deleted yours; {others} run(s) of other people are theirs to delete.")
        else:
            st.rerun()


def _delete(jobs: JobRegistry, run_id: int, followed: int | None) -> bool:
    if not jobs.delete(run_id, *access.control(run_id)):
        return False
    if run_id == followed:  # the run on show: close it
        close_run()
    return True
