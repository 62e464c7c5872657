"""Training views shared by the Train and Why-residuals pages: the job registry, live progress,
curves, results and the run history."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import streamlit as st
import torch  # imported at module load, before any thread: a first import inside threads broke numpy's once

from explorer import SpecError, fmt
from explorer.arch.codegen import loading_code
from explorer.inspect.teaching import TWIN_EXPERIMENT
from explorer.training.data import DATASETS
from explorer.training.job import JobSnapshot
from explorer.training.jobs import JobRegistry
from explorer.training.lr_range import range_curve
from explorer.training.run_diff import differing_settings, run_labels
from explorer.training.run_record import RunRecord
from explorer.training.runs import RunStore, StoreError
from explorer.training.status import status_line
from ui import access, chart_text, charts
from ui.text import plain
from ui.try_it import try_it


@st.cache_resource(on_release=JobRegistry.close)
def _registry() -> JobRegistry:
    """One registry per server process, shared by every browser session (it locks its own state)."""
    settings = access.settings()
    return JobRegistry(RunStore(settings.store_url), settings=settings)


def registry() -> JobRegistry | None:
    """The job registry, or None, with the reason shown, where the run history cannot be opened
    (a broken or read-only runs.sqlite, an unreachable PostgreSQL server): the page goes on without training."""
    try:
        return _registry()
    except StoreError as exc:
        st.error(f"{plain(exc)} Training and the run history are unavailable until then.")
        return None


def warm_up() -> None:
    """Start the training device's workers now, in the background (each imports torch; the first
    measures the device): the Train page's first visit then finds them ready, and a network and its
    plain twin train side by side from their first step. Once per server process."""
    if not access.settings().warm_up_workers:
        return
    try:
        jobs = _registry()
    except StoreError:  # said on the Train page, where it matters
        return
    jobs.start_workers(jobs.backend.device_type("auto"))  # no wait: the feeding threads start them


def gpu_available() -> bool:
    """Whether runs train on a GPU: this machine's, or a Ray cluster's (the ray_address setting)."""
    try:
        return _registry().backend.device_type("auto") == "cuda"
    except StoreError:  # said on the Train page; the suggestions follow this machine meanwhile
        return torch.cuda.is_available()


def range_testing(snap: JobSnapshot) -> bool:
    """Whether a live run is a learning-rate range test (known once it has started)."""
    return snap.start is not None and snap.start.range_test


def submit(jobs: JobRegistry, runs: list, experiment: str | None = None) -> list[int] | None:
    """Queue runs for this session (name, spec, recipe each), keeping their keys; the refusal shown
    (a budget or a quota, naming the limit) and None if they do not fit."""
    try:
        submitted = jobs.submit_all(runs, experiment, access.submitter())
    except SpecError as exc:
        st.error(f"Not started: {plain(exc)}")
        return None
    for submission in submitted:
        access.remember_key(submission.run_id, submission.key)
    return [s.run_id for s in submitted]


def may_control(jobs: JobRegistry, run_id: int) -> bool:
    """Whether this session may stop, delete or retrain the run (its key, or the lecturer)."""
    return jobs.may_control(run_id, *access.control(run_id))


def progress(snap: JobSnapshot) -> None:
    text = f"{snap.progress:.0%}"
    if snap.elapsed is not None:
        text += f" — elapsed {fmt.duration(snap.elapsed)}"
    if snap.status == "running" and snap.eta is not None:
        text += f", ETA {fmt.duration(snap.eta)}"
    st.progress(min(max(snap.progress, 0.0), 1.0), text=text)


def twin_of(jobs: JobRegistry, run_id: int, experiment: str | None) -> dict | None:
    """The other run of a network-and-plain-twin pair, as {"name", "steps", "epochs"}: live from
    the registry while it is there, else as stored; None for a run trained alone."""
    if not experiment or not experiment.startswith(TWIN_EXPERIMENT):
        return None
    other = next((r for r in jobs.store.list(experiment=experiment) if r.id != run_id), None)
    if other is None:
        return None
    if snap := jobs.snapshot(other.id):
        return {"name": snap.name, "steps": snap.steps, "epochs": snap.epochs, "status": status_line(snap),
                "active": not snap.finished}  # fmt: skip
    steps, epochs = jobs.store.steps(other.id), jobs.store.epochs(other.id)
    return {"name": other.name, "steps": steps, "epochs": epochs, "status": other.status, "active": False}


TWIN_SUFFIX = "plain twin"  # in the legends: the network's lines are solid, its twin's dashed


def live_curves(name: str, steps: list[dict], epochs: list[dict], key: str, twin: dict | None = None) -> None:
    """Per-step loss (smoothed, over steps or wall time), per-epoch accuracy and loss (train and
    test), and inside training per stage, for one run and its plain twin if it has one (dashed, in
    the same colours: train is always the first colour, test the second); nothing before its first
    step (a queued run, or one that failed before training: no empty axes)."""
    if not steps and not epochs and not (twin and (twin["steps"] or twin["epochs"])):
        return
    runs = [{"name": name, "steps": steps, "epochs": epochs}, *([twin] if twin else [])]
    c1, c2 = st.columns(2)
    smoothing = c1.slider(
        "Smoothing", 0.0, 0.99, 0.6, 0.01, key=f"{key}_smooth", help="TensorBoard's: a moving average"
    )
    x = c2.radio("Steps against", ["step", "elapsed"], horizontal=True, key=f"{key}_x",
                 format_func=charts.X_TITLES.get)  # fmt: skip
    # with a twin: two charts a row, so that the legends (four entries) stay whole
    c1, c2, c3 = st.columns(3) if not twin else [*st.columns(2), st.container()]
    step_runs = [
        {"name": "training loss" if i == 0 else f"training loss, {TWIN_SUFFIX}", "rows": run["steps"],
         "dash": "dash" if i else "solid", "color": charts.COLORS[0]}
        for i, run in enumerate(runs)
    ]  # fmt: skip
    chart_text.plot(c1, charts.step_loss(step_runs, smoothing, x), f"{key}_steps")
    for column, metric, title in ((c2, "acc", "Accuracy per epoch"), (c3, "loss", "Loss per epoch")):
        series = [
            {"name": part if i == 0 else f"{part}, {TWIN_SUFFIX}", "rows": run["epochs"],
             "metric": f"{part}_{metric}", "dash": "dash" if i else "solid", "color": charts.COLORS[k]}
            for i, run in enumerate(runs) for k, part in enumerate(("train", "test"))
        ]  # fmt: skip
        chart_text.plot(column, _two(series, title, fraction=metric == "acc"), f"{key}_{metric}")
    if twin:
        st.caption(f"Solid: {plain(name)}. Dashed: its plain twin, the same layers without shortcuts, trained at the "
                   "same time on the same images in the same order.")  # fmt: skip
    inside_training(runs, key, x)


def inside_training(runs: list[dict], key: str, x: str = "step") -> None:
    """Per stage, while the run goes: the gradient's norm and each step's update against the
    weights (stage_stats.py); a twin's lines dashed beside the network's."""
    series = [
        {"name": run["name"], "rows": run["steps"], "dash": "dash" if i else "solid"} for i, run in enumerate(runs)
    ]
    if not any(row.get("stages") for run in series for row in run["rows"]):
        return  # a run stored before these were measured
    c1, c2 = st.columns(2)
    grad = charts.stage_training(series, "grad_norm", "Gradient norm per stage", x)
    chart_text.plot(c1, grad, f"{key}_grad")
    ratio = charts.stage_training(series, "update_ratio", "Update / weight per step, per stage", x)
    chart_text.plot(c2, ratio, f"{key}_ratio")
    st.caption(
        "Inside training, read every few steps: how large each stage's gradient is, and how far one step "
        "moves its weights against their size (about 1e-3 is healthy; far below, that stage barely learns)."
        + (" Dashed: the plain twin, the same layers without shortcuts." if any(r["steps"] for r in runs[1:]) else "")
    )


def _use_lr(lr: float) -> None:
    st.session_state.t_lr = lr  # the Train page's form


def range_test(steps: list[dict], key: str, finished: bool) -> None:
    """A learning-rate range test: its curve as it grows, and once it ends, the rate it suggests
    with a button that puts it into the form."""
    curve = range_curve(steps)
    if curve is None:
        st.caption("The curve appears after ten steps." if not finished else "Too few steps to read a curve.")
        return
    chart_text.plot(st, charts.lr_range(curve, finished), f"{key}_range")
    if finished:
        suggested = float(f"{curve.suggested_lr:.2g}")
        st.markdown(
            f"The smoothed loss falls fastest at lr **{suggested:g}** and is lowest at **{curve.lowest_lr:.2g}**; "
            "beyond that it climbs and blows up. Train with the rate where it falls fastest (Smith 2017); with "
            "one-cycle, the peak may go up towards the lowest point. The test's weights are not kept."
        )
        if st.button(f"Use lr {suggested:g}", key=f"{key}_use", on_click=_use_lr, args=(suggested,), type="primary"):
            st.rerun()  # the whole page: the form is outside the run's fragment


def _two(series: list[dict], title: str, fraction: bool = False):
    """Metrics of a run (train and test), or of a run and its twin (dashed), one line each."""
    runs = [
        {
            "name": s["name"],
            "rows": [{"epoch": r["epoch"], "v": r[s["metric"]]} for r in s["rows"]],
            "dash": s.get("dash"),
            "color": s.get("color"),
        }
        for s in series
    ]
    # losses on a log axis: an untrained plain twin's test loss can be 1e5 (its batch-norm statistics)
    return charts.curves(runs, "v", title, fraction=fraction, log_y=not fraction)


def epoch_metrics(epochs: list[dict]) -> None:
    if not epochs:
        return
    last = epochs[-1]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Epoch", last["epoch"])
    c2.metric("Test accuracy", f"{last['test_acc']:.2%}")
    c3.metric("Train accuracy", f"{last['train_acc']:.2%}")
    c4.metric("Images / s", f"{last['images_per_sec']:,.0f}")


def results(store: RunStore, run: RunRecord) -> None:
    """After a run: its confusion matrix and the test images it got wrong."""
    dataset = DATASETS.get(run.recipe.get("dataset", ""))
    labels = dataset.classes if dataset else [str(i) for i in range(len(run.confusion or []))]
    if run.confusion:
        chart_text.plot(st, charts.confusion(run.confusion, labels), f"confusion_{run.id}")
    wrong = store.misclassified(run.id)
    if wrong:
        st.markdown("**Test images it got wrong** (true → predicted)")
        cols = st.columns(8)
        for i, item in enumerate(wrong[:24]):
            image = item["image"].numpy()
            image = image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))
            caption = f"{labels[item['true']]} → {labels[item['pred']]}"
            alt = f"Test image of {labels[item['true']]}, predicted {labels[item['pred']]}"
            cols[i % 8].image(image, caption=caption, width="stretch", clamp=True, alt=alt)
    try_it(run)
    take_away(run)


def take_away(run: RunRecord) -> None:
    """The trained network to take home: its weights and the spec they fit (adapted to the dataset)."""
    checkpoint = run.weights
    if checkpoint is None:
        return
    row = st.container(horizontal=True)  # buttons as wide as their labels, wrapping on narrow screens
    row.download_button(
        f"Weights ({fmt.nbytes(checkpoint.stat().st_size)})",
        data=checkpoint.read_bytes,  # read only when clicked: a ResNet-50's weights are ~100 MB
        file_name=f"run-{run.id}.pt",
        mime="application/octet-stream",
        on_click="ignore",
        key=f"weights_{run.id}",
        icon=":material/download:",
    )
    row.download_button(
        "Network (spec.json)",
        data=json.dumps(run.spec, indent=2),
        file_name=f"run-{run.id}-spec.json",
        mime="application/json",
        on_click="ignore",
        key=f"spec_{run.id}",
        icon=":material/download:",
    )
    with row.popover("Load them in Python"):
        size = (run.spec["input"]["height"], run.spec["input"]["width"])
        st.code(loading_code(f"run-{run.id}.pt", f"run-{run.id}-spec.json", size, run.normalize), language="python")
        if not run.normalize:  # a run stored before the history kept its normalisation
            st.caption(
                f"Inputs as in training: {fmt.shape(size)} px, scaled to [0, 1], then normalised per "
                "channel with the training images' mean and standard deviation."
            )


def history_frame(runs: list[RunRecord]):
    """One row per stored run, newest first; the experiment column only when some run belongs to one."""
    import pandas as pd

    columns = {
        "id": [r.id for r in runs],
        "name": [r.name for r in runs],
        "experiment": [r.experiment or "" for r in runs],
        "started": [datetime.fromtimestamp(r.began) for r in runs],
        "dataset": [r.recipe.get("dataset") for r in runs],
        # a range test sweeps the lr and runs its own number of steps: its recipe's values were not used
        "epochs": [None if r.range_test else r.recipe.get("epochs") for r in runs],
        "lr": [None if r.range_test else r.recipe.get("lr") for r in runs],
        "status": [r.status for r in runs],
        "test acc": [r.test_acc for r in runs],
        "duration": [r.duration for r in runs],  # seconds, so that the column sorts
        "params": [r.params for r in runs],
        "device": [r.device_label for r in runs],
        # kept under the checkpoints' disk budget: the oldest finished runs' weights go first
        "weights": ["removed" if r.weights_removed else "" for r in runs],
    }
    for optional in ("experiment", "weights"):  # shown once some run has one
        if not any(columns[optional]):
            del columns[optional]
    return pd.DataFrame(columns)


HISTORY_COLUMNS = {
    "status": st.column_config.TextColumn(width="medium"),  # "completed" whole, not "complet..."
    "started": st.column_config.DatetimeColumn(format="MMM D, HH:mm"),
    "test acc": st.column_config.NumberColumn(format="%.4f"),
    "params": st.column_config.NumberColumn(format="localized"),
    "duration": st.column_config.NumberColumn(format="%.1f s"),
    # sized by their header, not by one-digit values: issue 23's projector read "epc"
    "epochs": st.column_config.NumberColumn(width="small"),
    "lr": st.column_config.NumberColumn(width="small"),
}


def overlay(store: RunStore, runs: list[RunRecord], key: str) -> None:
    """Curves of several stored runs on the same axes."""
    if len(runs) > 1:
        if differs := differing_settings(runs):
            st.caption("What differs between the selected runs")
            st.dataframe({"run": [f"#{r.id} {r.name}" for r in runs], **differs}, hide_index=True)
        else:
            st.caption("The selected runs share every setting: with one seed on one device, their curves coincide.")
    labels = dict(zip((r.id for r in runs), run_labels(runs), strict=True))
    tests = [(labels[r.id], curve) for r in runs if r.range_test and (curve := range_curve(store.steps(r.id)))]
    if tests:  # range tests have no epochs: their curves against the learning rate
        chart_text.plot(st, charts.lr_ranges(tests), f"{key}_ranges")
    runs = [r for r in runs if not r.range_test]
    series = [{"name": labels[r.id], "rows": store.epochs(r.id)} for r in runs]
    empty = [f"#{r.id} ({r.status})" for r, s in zip(runs, series, strict=True) if not s["rows"]]
    if empty:  # diverged or stopped in its first epoch, or still queued: nothing on the axes
        st.caption(f"No finished epoch to plot: {', '.join(empty)}.")
    series = [s for s in series if s["rows"]]
    if not series:
        return
    c1, c2 = st.columns(2)
    chart_text.plot(c1, charts.curves(series, "test_acc", "Test accuracy", fraction=True), f"{key}_acc")
    chart_text.plot(c2, charts.curves(series, "train_loss", "Training loss", log_y=True), f"{key}_l")
