"""The Why residuals? page's sections, one function each: the identity, batch norm and the learning
rate, a block built step by step, a quiz; and what the experiments share (a launcher, their runs'
curves). Gradient flow is in ui/why_flow.py, the degradation experiment in ui/why_degradation.py;
the experiments' numbers are read off their runs by explorer/inspect/experiments.py."""

from __future__ import annotations

import time

import streamlit as st

from explorer import SpecError, analyze, fmt
from explorer.inspect import experiments
from explorer.inspect.teaching import (
    SWEEP_LRS,
    block_walkthrough,
    bn_lr_verdict,
    bn_range_test_runs,
    cifar_spec,
    identity_demo,
    lr_sweep_runs,
    random_quiz_spec,
)
from explorer.training.data import DATASETS
from explorer.training.jobs import JobRegistry
from explorer.training.lr_range import range_curve
from explorer.training.run_record import RunRecord
from ui import chart_text, charts, training
from ui.blocks import walkthrough_dot
from ui.text import plain


def launcher(
    jobs: JobRegistry | None, prefix: str, button: str, make_runs, default_data: str, key: str
) -> tuple[str | None, bool]:
    """A dataset picker and a start button for an experiment (a set of queued runs), then the
    experiment to show; returns its name and whether any of its runs still trains or waits."""
    if jobs is None:  # no run history (a broken runs.sqlite): said once, above
        return None, False
    store = jobs.store
    row = st.container(horizontal=True, vertical_alignment="bottom")  # the button as wide as its label
    options = list(DATASETS)
    data = row.selectbox(
        "Dataset",
        options,
        index=options.index(default_data),
        key=f"{key}_data",
        width=260,
        format_func=lambda name: DATASETS[name].title,
    )
    if row.button(button, key=f"{key}_start", type="primary"):
        name = f"{prefix} {time.strftime('%Y-%m-%d %H:%M:%S')}"
        if training.submit(jobs, make_runs(data), name):  # all of them, or none and why
            st.session_state[f"{key}_exp"] = name
    past = store.experiments(prefix)
    if not past:
        return None, False
    chosen = st.selectbox("Experiment", past, key=f"{key}_exp", format_func=lambda e: experiment_label(jobs, e))
    return chosen, any(s.experiment == chosen for s in jobs.active())


def show_failures(runs: list) -> None:
    """Why runs of an experiment failed (an offline download, say), each reason once."""
    for reason, names in experiments.failures(runs).items():
        which = f"All {len(runs)} runs" if len(names) == len(runs) else ", ".join(names)
        st.error(f"{which} failed: {reason}")


def experiment_label(jobs: JobRegistry, experiment: str) -> str:
    """An experiment's name and the dataset its runs trained on: the picker above may say another."""
    runs = jobs.store.list(experiment=experiment)
    dataset = runs[0].recipe.get("dataset") if runs else None
    return f"{experiment} · {DATASETS[dataset].title}" if dataset in DATASETS else experiment


def experiment_rows(jobs: JobRegistry, experiment: str) -> list[tuple[RunRecord, list[dict], str]]:
    """An experiment's runs in the order they were queued, each with its epochs and status: live
    from the registry while it is there, else as stored."""
    runs = sorted(jobs.store.list(experiment=experiment), key=lambda r: r.id)
    rows = []
    for run in runs:
        snap = jobs.snapshot(run.id)
        epochs = snap.epochs if snap is not None else jobs.store.epochs(run.id)
        rows.append((run, epochs, snap.status if snap is not None else run.status))
    return rows


def run_depth(run: RunRecord) -> int:
    """A run's depth as He et al. count it for basic blocks: two convs per block, the stem and the fc."""
    return 2 + 2 * sum(stage["blocks"] for stage in run.spec.get("stages", []))


def experiment_charts(rows: list, metric_sets: list[tuple[str, str, bool]], key: str) -> None:
    """Overlay the curves of an experiment's runs: a colour per depth, plain dashed, each metric
    (name, title, as an error) on a chart of its own."""
    st.caption(" · ".join(f"{plain(run.name)}: {status}" for run, _, status in rows))
    show_failures([run for run, _, _ in rows])
    depths = sorted({run_depth(run) for run, _, _ in rows})
    cols = st.columns(len(metric_sets))
    for col, (metric, title, error) in zip(cols, metric_sets, strict=True):
        series = [
            {
                "name": run.name,
                "dash": "dash" if experiments.is_plain(run) else "solid",
                "color": charts.COLORS[depths.index(run_depth(run)) % len(charts.COLORS)],
                "rows": [{"epoch": e["epoch"], "v": (1 - e[metric]) if error else e[metric]} for e in epochs],
            }
            for run, epochs, _ in rows
        ]
        figure = charts.curves(series, "v", title, fraction=error, log_y=not error)
        chart_text.plot(col, figure, f"{key}_{metric}")


def identity_readout(demo, shown) -> str:
    """The identity demo in words, read off its numbers (`shown` prints a value as the metrics do)."""
    residual = (
        "the residual block computes ReLU(0 + x) = x exactly: a deeper network can copy a shallower one for free"
        if demo.residual_max_error == 0
        else f"the residual block's output is within {shown(demo.residual_max_error)} of x"
    )
    plain = (
        f"The plain block outputs ReLU(0) = 0 (‖block(x)‖ = {shown(demo.plain_output_norm)}) and loses its input "
        "entirely, so its error is the input itself"
        if demo.plain_output_norm == 0
        else f"The plain block's output is off by up to {demo.plain_max_error:.2f}"
    )
    return (
        f"Measured on a batch with ‖x‖ = {demo.input_norm:.1f}. With its branch's last batch norm at zero, "
        f"{residual}. {plain}. This is what `zero_init_residual` uses (Goyal et al. 2017)."
    )


def identity() -> None:
    st.subheader("A block that starts at zero is exactly the identity")
    demo = identity_demo()
    c1, c2 = st.columns(2)
    error = lambda v: "0" if v == 0 else f"{v:.1e}"  # noqa: E731 - exactly zero reads as 0
    c1.metric("Residual block, last BN γ = 0: max |block(x) − x|", error(demo.residual_max_error))
    c2.metric("The same block without its shortcut: max |block(x) − x|", f"{demo.plain_max_error:.2f}")
    st.markdown(identity_readout(demo, error))


def lr_sweep(jobs: JobRegistry | None) -> None:
    """The final loss at six learning rates, with and without batch norm, and what it shows."""
    st.subheader("Does batch norm let you use a larger learning rate?")
    st.caption(
        "resnet-20 at width 8, with and without batch norm, one epoch on up to 4,000 images at each learning "
        "rate; the final training loss of each run (diverged runs are drawn at the top)."
    )
    lrs = SWEEP_LRS
    chosen, running = launcher(
        jobs,
        "lr sweep",
        "Run the sweep (12 short runs)",
        lambda data: lr_sweep_runs(cifar_spec(20, 8), lrs, data),
        "fashion-mnist",  # digits' 1,437 images make 12 steps an epoch: too few for the contrast to show
        "w_lr",
    )
    if not chosen:
        return

    def final_loss(run) -> float | None:
        epochs = jobs.store.epochs(run.id)
        return epochs[-1]["train_loss"] if epochs else None

    @st.fragment(run_every=1.0 if running else None)
    def live() -> None:
        runs = jobs.store.list(experiment=chosen)
        points = experiments.sweep_points(runs, final_loss)
        done = sum(r.status not in ("queued", "running") for r in runs)
        st.caption(f"{done} of {len(runs)} runs finished.")
        show_failures(runs)
        series = [(group, lrs, losses) for group, (lrs, losses) in points.items() if lrs]
        if series:
            chance = experiments.chance_loss(len(DATASETS[runs[0].recipe["dataset"]].classes))
            chart_text.plot(st, charts.final_vs_lr(series, chance), "w_lr_chart")
            st.markdown(experiments.sweep_readout(points, chance))
            if done == len(runs):  # the verdict only once every rate has been tried
                limits = (experiments.stable_limit(*points[g]) for g in (experiments.BN, experiments.NO_BN))
                st.markdown(bn_lr_verdict(*limits))
        if done == len(runs) and running:
            st.rerun()  # every run finished: stop polling

    live()


def range_tests(jobs: JobRegistry | None) -> None:
    """The same question as two learning-rate range tests, read off their curves."""
    st.markdown("**The same question in two runs: range tests**")
    st.caption(
        "The same network with and without batch norm, each trained for 100 steps while the learning rate grows "
        "from 0.00001 to 10 (Smith 2017): where does each learn fastest, how low does its loss get, and where "
        "does it blow up?"
    )
    chosen, running = launcher(
        jobs,
        "lr range tests",
        "Range-test both (2 runs of 100 steps)",
        lambda data: bn_range_test_runs(cifar_spec(20, 8), data),
        "fashion-mnist",
        "w_rt",
    )
    if not chosen:
        return

    @st.fragment(run_every=1.0 if running else None)
    def live() -> None:
        runs = sorted(jobs.store.list(experiment=chosen), key=lambda r: r.id)
        snaps = [jobs.snapshot(run.id) for run in runs]  # queued and running say so at once
        st.caption(
            " · ".join(f"{plain(r.name)}: {s.status if s else r.status}" for r, s in zip(runs, snaps, strict=True))
        )
        show_failures(runs)
        tests = [
            (experiments.norm_group(run), curve) for run in runs if (curve := range_curve(jobs.store.steps(run.id)))
        ]
        if tests:
            chart_text.plot(st, charts.lr_ranges(tests), "w_rt_chart")
        if tests and not running:
            st.markdown(experiments.range_readout(tests))
            limits = {name: experiments.range_limit(c) for name, c in tests}
            if len(limits) == 2:  # the last lr before blowing up, or the whole range
                st.markdown(bn_lr_verdict(limits.get(experiments.BN), limits.get(experiments.NO_BN)))
        if running and not any(s.experiment == chosen for s in jobs.active()):
            st.rerun()  # both ended: stop polling

    live()


def build_a_block(lecture: bool) -> None:
    st.subheader("A residual block, one operation at a time")
    c1, c2, c3, c4 = st.columns(4)
    cin = c1.number_input("Input channels", 1, 2048, 64, key="w_cin")
    cout = c2.number_input("Output channels", 1, 2048, 128, key="w_cout")
    stride = c3.selectbox("Stride", [1, 2], index=1, key="w_stride")
    side = c4.number_input("Input side (px)", 1, 1024, 24, key="w_side")
    try:
        steps = block_walkthrough(int(cin), int(cout), int(stride), int(side))
    except SpecError as exc:
        st.error(plain(exc))
        steps = []
    if steps:
        shown = st.slider("Step", 1, len(steps), 1 if lecture else len(steps), key="w_step")
        step = steps[shown - 1]
        st.markdown(f"**Step {shown}: {step.label}** → shape **{fmt.shape(step.shape)}**, {step.params:,} parameters")
        st.graphviz_chart(walkthrough_dot(steps[:shown]), width="stretch")
        st.caption(f"The whole block: {sum(s.params for s in steps):,} parameters (d2l's Residual, with biases).")


def quiz() -> None:
    st.subheader("Predict, then reveal")
    if "w_quiz_seed" not in st.session_state:
        st.session_state.w_quiz_seed = int(time.time()) % 100_000
    if st.button("New network", key="w_quiz_new"):
        st.session_state.w_quiz_seed += 1
        st.session_state.w_quiz_reveal = False
    quiz = random_quiz_spec(st.session_state.w_quiz_seed)
    qa = analyze(quiz)
    i = quiz.input
    stem = "7x7/2 conv + 3x3/2 max-pool" if quiz.stem.kind == "imagenet" else "3x3/1 conv"
    stages = ", ".join(
        f"{s.blocks} block{'s' if s.blocks > 1 else ''} x {s.channels} ch, stride {s.stride}" for s in quiz.stages
    )
    st.markdown(
        f"Input **{i.channels}x{i.height}x{i.width}**, stem {stem} to {quiz.stem.width} channels, "
        f"stages **{stages}**, "
        f"basic blocks, 1x1 projections with BN where shapes change, {quiz.num_classes} classes"
        f"{', convs with bias' if quiz.conv_bias else ''}."
    )
    c1, c2 = st.columns(2)
    guess_shape = c1.text_input("Shape after the last stage (C x H x W)", key="w_quiz_shape")
    guess_params = c2.number_input("Total parameters", min_value=0, step=1000, key="w_quiz_params")
    if st.button("Reveal", key="w_quiz_reveal_btn"):
        st.session_state.w_quiz_reveal = True
    if st.session_state.get("w_quiz_reveal"):
        answer_shape = fmt.shape(qa.stages[-2].output_shape)
        right = guess_shape.replace(" ", "").replace("×", "x") == answer_shape
        st.markdown(f"Shape: **{answer_shape}** {'✓' if right else '✗'}")
        off = abs(guess_params - qa.total_params) / qa.total_params
        st.markdown(f"Parameters: **{qa.total_params:,}** ({'✓ within 5%' if off <= 0.05 else f'{off:.0%} off'})")
        st.dataframe(
            [{"stage": s.name, "output": fmt.shape(s.output_shape), "params": s.params} for s in qa.stages],
            hide_index=True,
            column_config={"params": st.column_config.NumberColumn(format="localized")},  # 1,192, not 1192
        )
