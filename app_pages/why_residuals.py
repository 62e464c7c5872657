"""Why residuals? The seed's argument, measured live: identity, gradients, degradation, BN."""

import math
import time

import streamlit as st

from explorer import SpecError, analyze, fmt
from explorer.inspect.teaching import (
    block_walkthrough,
    bn_lr_verdict,
    bn_range_test_runs,
    cifar_spec,
    degradation_runs,
    gradient_flow,
    identity_demo,
    lr_sweep_runs,
    random_quiz_spec,
)
from explorer.training.data import DATASETS, OFFLINE_DATASET
from explorer.training.lr_range import RANGE_STEPS, range_curve
from ui import charts, training
from ui.blocks import walkthrough_dot
from ui.lecture import lecture_toggle

lecture = lecture_toggle()
gpu = training.gpu_available()
st.title("Why residuals?")
st.markdown(
    "A block computes **f(x) = g(x) + x**: adding a block can never cost the network what it already had, "
    "and the gradient has a path around every block. Here each claim is measured, not asserted."
)
tabs = st.tabs(["The identity", "Gradient flow", "Degradation", "BN and the learning rate", "Build a block", "Quiz"])
with tabs[2]:  # the experiments train: without a run history (a broken runs.sqlite) they say why, once
    jobs = training.registry()
store = jobs.store if jobs else None


@st.cache_data(show_spinner=False)
def flows(depth: int, width: int, bn: bool, zero_init: bool, init: str) -> dict:
    out = {}
    for residual in (False, True):
        spec = cifar_spec(depth, width, residual, batch_norm=bn, zero_init_residual=zero_init and residual)
        flow = gradient_flow(spec, init)
        out["residual" if residual else "plain"] = (flow.depth_index, flow.grad_norm, flow.first_to_last_ratio)
    return out


def launcher(prefix: str, button: str, make_runs, default_data: str, key: str) -> tuple[str | None, bool]:
    """A dataset picker and a start button for an experiment (a set of queued runs), then the
    experiment to show; returns its name and whether any of its runs still trains or waits."""
    if jobs is None:
        return None, False
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
    chosen = st.selectbox("Experiment", past, key=f"{key}_exp", format_func=experiment_label)
    return chosen, any(s.experiment == chosen for s in jobs.active())


def show_failures(runs: list) -> None:
    """Why runs of an experiment failed (an offline download, say), each reason once."""
    reasons: dict[str, list[str]] = {}
    for run in runs:
        if run.status == "failed":
            reasons.setdefault(run.message or "no reason recorded", []).append(run.name)
    for reason, names in reasons.items():
        which = f"All {len(runs)} runs" if len(names) == len(runs) else ", ".join(names)
        st.error(f"{which} failed: {reason}")


def experiment_label(experiment: str) -> str:
    """An experiment's name and the dataset its runs trained on: the picker above may say another."""
    runs = store.list(experiment=experiment)
    dataset = runs[0].recipe.get("dataset") if runs else None
    return f"{experiment} · {DATASETS[dataset].title}" if dataset in DATASETS else experiment


def experiment_view(experiment: str, metric_sets: list[tuple[str, str, bool]], key: str) -> bool:
    """Overlay the curves of an experiment's runs (plain dashed); returns whether any still run."""
    runs = sorted(store.list(experiment=experiment), key=lambda r: r.id)
    live = [jobs.snapshot(r.id) for r in runs]
    running = any(s is not None and not s.finished for s in live)
    rows = []
    for run, snap in zip(runs, live, strict=True):
        epochs = snap.epochs if snap is not None else store.epochs(run.id)
        status = snap.status if snap is not None else run.status
        rows.append((run, epochs, status))
    st.caption(" · ".join(f"{run.name}: {status}" for run, _, status in rows))
    show_failures(runs)
    cols = st.columns(len(metric_sets))
    for col, (metric, title, error) in zip(cols, metric_sets, strict=True):
        series = [
            {
                "name": run.name,
                "dash": "dash" if run.name.startswith("plain") else "solid",
                "rows": [{"epoch": e["epoch"], "v": (1 - e[metric]) if error else e[metric]} for e in epochs],
            }
            for run, epochs, _ in rows
        ]
        col.plotly_chart(charts.curves(series, "v", title, fraction=True), width="stretch", key=f"{key}_{metric}")
    return running


# ----- 1. the identity -----------------------------------------------------------------------------
with tabs[0]:
    st.subheader("A block that starts at zero is exactly the identity")
    demo = identity_demo()
    c1, c2 = st.columns(2)
    error = lambda v: "0" if v == 0 else f"{v:.1e}"  # noqa: E731 - exactly zero reads as 0
    c1.metric("Residual block, last BN γ = 0: max |block(x) − x|", error(demo.residual_max_error))
    c2.metric("The same block without its shortcut: max |block(x) − x|", f"{demo.plain_max_error:.2f}")
    st.markdown(
        f"Measured on a batch with ‖x‖ = {demo.input_norm:.1f}. With its branch's last batch norm at zero, "
        "the residual block computes ReLU(0 + x) = x: a deeper network can copy a shallower one for free. "
        f"The plain block outputs ReLU(0) = 0 (‖block(x)‖ = {error(demo.plain_output_norm)}) and loses its input "
        "entirely, so its error is the input itself. This is what `zero_init_residual` uses (Goyal et al. 2017)."
    )

# ----- 2. gradient flow ---------------------------------------------------------------------------
with tabs[1]:
    st.subheader("Gradients at initialisation: plain against residual")
    c1, c2, c3 = st.columns([3, 3, 2])
    depth = c1.select_slider("Depth (layers)", options=[8, 14, 20, 32, 44, 56, 110], value=56, key="w_depth")
    width = c2.select_slider("Width", options=[8, 16, 32], value=16, key="w_width")
    init = c3.selectbox("Init", ["xavier", "torchvision"], key="w_init", help="xavier: d2l's; torchvision: Kaiming")
    switches = st.container(horizontal=True, gap="large")  # whole labels, side by side below
    bn = switches.toggle("Batch norm", value=False, key="w_bn")
    zero_init = switches.toggle(
        "Zero-init last layer",
        value=False,
        key="w_zero",
        help="Each residual branch's last layer (its BN, or its conv without BN) starts at zero, so every "
        "block starts as the identity (Goyal et al. 2017)",
    )
    with st.spinner("One forward and backward pass through both networks…"):
        result = flows(depth, width, bn, zero_init, init)
    (p_index, p_norms, p_ratio), (r_index, r_norms, r_ratio) = result["plain"], result["residual"]
    st.plotly_chart(
        charts.gradient_flow(
            [(f"plain-{depth}", p_index, p_norms, "dash"), (f"resnet-{depth}", r_index, r_norms, "solid")]
        ),
        width="stretch",
        key="w_flow_chart",
    )
    st.markdown(
        f"Gradient at the first layer: **plain {p_norms[0]:.1e}**, **residual {r_norms[0]:.1e}** "
        f"(the first layer's gradient is {p_ratio:.1e} times the last layer's in the plain network, "
        f"{r_ratio:.1e} times in the residual one). In the plain network the signal is multiplied by every "
        "layer: with d2l's Xavier init and no batch norm it fades to almost nothing (vanishing gradients); "
        "with batch norm the gradient grows towards the input instead (Yang et al. 2019). Every residual "
        "block adds a path on which it passes unchanged, so the first layers still learn."
    )

# ----- 3. degradation -----------------------------------------------------------------------------
with tabs[2]:
    st.subheader("Deeper plain networks train worse; deeper ResNets do not (He et al. 2016, Fig. 1)")
    if gpu:
        st.caption("Full version: width 16, whole training set, 10 epochs, one-cycle to lr 0.1 — about a minute.")
    else:
        st.info(
            "No GPU here, so this is the reduced version: width 8 instead of 16, 4,000 training images, "
            "4 epochs. It shows the plain networks' degradation in a few minutes; the residual side needs "
            "the GPU version's longer schedule to show resnet-56 overtaking resnet-20."
        )
    chosen, deg_running = launcher(
        "degradation",
        "Run plain-20/56 and resnet-20/56",
        lambda data: degradation_runs(gpu, data),
        "cifar10" if gpu else "fashion-mnist",
        "w_deg",
    )
    if chosen:

        @st.fragment(run_every=1.0 if deg_running else None)
        def degradation_live() -> None:
            metrics = [("train_acc", "Training error", True), ("test_acc", "Test error", True)]
            if not experiment_view(chosen, metrics, "w_deg") and deg_running:
                st.rerun()  # all four finished: stop polling

        degradation_live()
        st.caption(
            f"Dashed: plain. If a download fails, choose '{OFFLINE_DATASET}' (offline). "
            "Runs are stored in the run history (Train page)."
        )

# ----- 4. BN and the learning rate -------------------------------------------------------------------
DIVERGED_LOSS = 1e3  # where a diverged run is drawn


def stable_limit(lrs: list, losses: list) -> float | None:
    """The largest learning rate of the sweep that trained without blowing up, if any."""
    return max((lr for lr, loss in zip(lrs, losses, strict=True) if loss < DIVERGED_LOSS), default=None)


def sweep_readout(points: dict[str, tuple[list, list]], chance: float) -> str:
    """The sweep in one sentence: each group's lowest final loss and where it diverged."""
    best, diverged = [], []
    for group, (lrs, losses) in points.items():
        stable = [(loss, lr) for lr, loss in zip(lrs, losses, strict=True) if loss < DIVERGED_LOSS]
        if stable:
            loss, lr = min(stable)
            best.append(f"{group} **{loss:.2f}** at lr {lr:g}")
        gone = sorted(lr for lr, loss in zip(lrs, losses, strict=True) if loss >= DIVERGED_LOSS)
        diverged.append(f"{group} at lr {', '.join(f'{lr:g}' for lr in gone)}" if gone else f"{group} never")
    return f"Lowest final loss: {'; '.join(best)} (guessing scores {chance:.2f}). Diverged: {'; '.join(diverged)}."


with tabs[3]:
    st.subheader("Does batch norm let you use a larger learning rate?")
    st.caption(
        "resnet-20 at width 8, with and without batch norm, one epoch on up to 4,000 images at each learning "
        "rate; the final training loss of each run (diverged runs are drawn at the top)."
    )
    lrs = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    chosen_lr, sweep_running = launcher(
        "lr sweep",
        "Run the sweep (12 short runs)",
        lambda data: lr_sweep_runs(cifar_spec(20, 8), lrs, data),
        "fashion-mnist",  # digits' 1,437 images make 12 steps an epoch: too few for the contrast to show
        "w_lr",
    )
    if chosen_lr:

        @st.fragment(run_every=1.0 if sweep_running else None)
        def sweep_live() -> None:
            points: dict[str, tuple[list, list]] = {"BN": ([], []), "no BN": ([], [])}
            runs = store.list(experiment=chosen_lr)
            for run in runs:
                epochs = store.epochs(run.id)
                group = "BN" if run.spec.get("batch_norm") else "no BN"
                loss = epochs[-1]["train_loss"] if epochs and run.status == "completed" else None
                if run.status == "diverged" or (loss is not None and loss > DIVERGED_LOSS):
                    loss = DIVERGED_LOSS  # non-finite, or blown up without becoming so
                if loss is not None:
                    points[group][0].append(run.recipe["lr"])
                    points[group][1].append(loss)
            done = sum(r.status not in ("queued", "running") for r in runs)
            st.caption(f"{done} of {len(runs)} runs finished.")
            show_failures(runs)
            series = [(g, *zip(*sorted(zip(*p, strict=True)), strict=True)) for g, p in points.items() if p[0]]
            if series:
                classes = len(DATASETS[runs[0].recipe["dataset"]].classes)
                chance = math.log(classes)  # the cross-entropy of a uniform guess
                st.plotly_chart(charts.final_vs_lr(series, chance), width="stretch", key="w_lr_chart")
                st.markdown(sweep_readout(points, chance))
                if done == len(runs):  # the verdict only once every rate has been tried
                    st.markdown(bn_lr_verdict(*(stable_limit(*points[g]) for g in ("BN", "no BN"))))
            if done == len(runs) and sweep_running:
                st.rerun()  # every run finished: stop polling

        sweep_live()

    st.divider()
    st.markdown("**The same question in two runs: range tests**")
    st.caption(
        "The same network with and without batch norm, each trained for 100 steps while the learning rate grows "
        "from 0.00001 to 10 (Smith 2017): where does each learn fastest, how low does its loss get, and where "
        "does it blow up?"
    )
    chosen_rt, tests_running = launcher(
        "lr range tests",
        "Range-test both (2 runs of 100 steps)",
        lambda data: bn_range_test_runs(cifar_spec(20, 8), data),
        "fashion-mnist",
        "w_rt",
    )
    if chosen_rt:

        @st.fragment(run_every=1.0 if tests_running else None)
        def range_tests_live() -> None:
            runs = sorted(store.list(experiment=chosen_rt), key=lambda r: r.id)
            live = [jobs.snapshot(run.id) for run in runs]  # queued and running say so at once
            st.caption(" · ".join(f"{r.name}: {s.status if s else r.status}" for r, s in zip(runs, live, strict=True)))
            show_failures(runs)
            tests = [
                ("BN" if run.spec.get("batch_norm") else "no BN", curve)
                for run in runs
                if (curve := range_curve(store.steps(run.id)))
            ]
            if tests:
                st.plotly_chart(charts.lr_ranges(tests), width="stretch", key="w_rt_chart")
            if tests and not tests_running:
                said = [
                    f"{name}: falls fastest at lr **{c.suggested_lr:.2g}**, lowest loss **{c.lowest_loss:.2f}** "
                    f"at {c.lowest_lr:.2g}, "
                    + (f"blew up by lr **{c.lrs[-1]:.2g}**" if len(c.lrs) < RANGE_STEPS else "never blew up")
                    for name, c in tests
                ]
                st.markdown("; ".join(said) + ".")
                limits = {name: (c.lrs[-1] if len(c.lrs) < RANGE_STEPS else math.inf) for name, c in tests}
                if len(limits) == 2:  # the last lr before blowing up, or the whole range
                    st.markdown(bn_lr_verdict(limits.get("BN"), limits.get("no BN")))
            if tests_running and not any(s.experiment == chosen_rt for s in jobs.active()):
                st.rerun()  # both ended: stop polling

        range_tests_live()

# ----- 5. build a block, step by step (lecture mode) --------------------------------------------------
with tabs[4]:
    st.subheader("A residual block, one operation at a time")
    c1, c2, c3, c4 = st.columns(4)
    cin = c1.number_input("Input channels", 1, 2048, 64, key="w_cin")
    cout = c2.number_input("Output channels", 1, 2048, 128, key="w_cout")
    stride = c3.selectbox("Stride", [1, 2], index=1, key="w_stride")
    side = c4.number_input("Input side (px)", 1, 1024, 24, key="w_side")
    try:
        steps = block_walkthrough(int(cin), int(cout), int(stride), int(side))
    except SpecError as exc:
        st.error(str(exc))
        steps = []
    if steps:
        shown = st.slider("Step", 1, len(steps), 1 if lecture else len(steps), key="w_step")
        step = steps[shown - 1]
        st.markdown(f"**Step {shown}: {step.label}** → shape **{fmt.shape(step.shape)}**, {step.params:,} parameters")
        st.graphviz_chart(walkthrough_dot(steps[:shown]), width="stretch")
        st.caption(f"The whole block: {sum(s.params for s in steps):,} parameters (the seed's Residual, with biases).")

# ----- quiz ---------------------------------------------------------------------------------------
with tabs[5]:
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
