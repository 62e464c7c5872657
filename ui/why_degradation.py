"""The Why residuals? page's degradation section (He et al. 2016, Fig. 1): the four runs live, their
verdict computed from their final training losses, and beside them the app's recorded full-size run,
labelled as recorded (explorer/inspect/degradation.py)."""

from __future__ import annotations

import streamlit as st

from explorer import fmt
from explorer.hall.budget import training_cost
from explorer.inspect.degradation import degradation_verdict, final_losses, recorded_run
from explorer.inspect.teaching import (
    CPU_DEGRADATION,
    GPU_DEGRADATION,
    DegradationSetup,
    degradation_runs,
    degradation_setup,
)
from explorer.training.data import DATASETS, OFFLINE_DATASET
from explorer.training.estimate import queue_seconds
from explorer.training.jobs import WORKERS_PER_DEVICE, JobRegistry
from ui import chart_text, charts, training
from ui.lecture import lecture_requested
from ui.why_residuals import experiment_charts, experiment_rows, launcher, run_depth

METRICS = [("train_loss", "Training loss (live)", False)]


def _expected(jobs: JobRegistry, setup: DegradationSetup) -> str:
    """The experiment's expected length here, from the measured speed (two runs at a time)."""
    device = "cuda" if training.gpu_available() else "cpu"
    speed = jobs.speed(device) if device in jobs.slots else None  # known once a worker has measured it
    if speed is None:
        return ""
    seconds = [training_cost(spec, recipe, speed).estimate.run_seconds() for _, spec, recipe in degradation_runs(setup)]
    return f" About {fmt.duration(queue_seconds(seconds, WORKERS_PER_DEVICE))} here, the four runs two at a time."


def degradation(jobs: JobRegistry | None, gpu: bool) -> None:
    st.subheader("Deeper plain networks train worse; deeper ResNets do not (He et al. 2016, Fig. 1)")
    default = (GPU_DEGRADATION if gpu else CPU_DEGRADATION).dataset
    # side by side at a desk; one under the other on a projector
    live_col, recorded_col = (st.container(), st.container()) if lecture_requested() else st.columns(2)
    with live_col:
        st.markdown("**Live, here**")
        chosen, running = launcher(
            jobs,
            "degradation",
            "Run plain-20/56 and resnet-20/56",
            lambda data: degradation_runs(degradation_setup(data, gpu)),
            default,
            "w_deg",
        )
        setup = degradation_setup(st.session_state.get("w_deg_data", default), gpu)
        version = "The full version" if gpu else "The version for this CPU, found by experiment (benchmarks/RESULTS.md)"
        expected = _expected(jobs, setup) if jobs is not None else ""
        st.caption(f"{version}: {setup.described}, one-cycle to lr 0.1, no augmentation.{expected}")
        if chosen:
            _live(jobs, chosen, running, setup)
    with recorded_col:
        recorded()


def _live(jobs: JobRegistry, chosen: str, running: bool, setup: DegradationSetup) -> None:
    @st.fragment(run_every=1.0 if running else None)
    def degradation_live() -> None:
        rows = experiment_rows(jobs, chosen)
        experiment_charts(rows, METRICS, "w_deg")
        done = {run.name: epochs for run, epochs, status in rows if status == "completed"}
        if verdict := degradation_verdict(final_losses(done), _depths(rows, setup)):
            st.markdown(verdict)
        still = any(status in ("queued", "running") for _, _, status in rows)
        if running and not still:
            st.rerun()  # all four ended: stop polling

    degradation_live()
    st.caption(
        f"Dashed: plain. What matters is the training loss: degradation is not overfitting. If a download fails, "
        f"choose '{DATASETS[OFFLINE_DATASET].title}'. The runs are kept in the run history (Train page)."
    )


def _depths(rows: list, setup: DegradationSetup) -> tuple[int, int]:
    """The depths of the experiment's runs (an older experiment may have had others)."""
    depths = sorted({run_depth(run) for run, _, _ in rows})
    return (depths[0], depths[-1]) if len(depths) == 2 else setup.depths


def recorded() -> None:
    """The app's own recorded run of a larger version (no GPU was at hand to record the full one),
    from its data file: labelled as recorded, with its command, device and date."""
    run = recorded_run()
    st.markdown("**Recorded once, larger** (not live)")
    if run is None:
        st.caption("No recorded run ships with this copy of the app.")
        return
    series = [
        {
            "name": name,
            "dash": "dash" if name.startswith("plain") else "solid",
            "color": charts.COLORS[run.depths.index(int(name.rsplit("-", 1)[1])) % len(charts.COLORS)],
            "rows": [{"epoch": e["epoch"], "v": e["train_loss"]} for e in epochs],
        }
        for name, epochs in run.epochs.items()
    ]
    chart_text.plot(st, charts.curves(series, "v", "Training loss (recorded)", log_y=True), "w_deg_recorded")
    st.markdown(degradation_verdict(run.final, run.depths))
    st.caption(f"Recorded on {run.device}, {run.date}: {run.described}. `{run.command}`")
