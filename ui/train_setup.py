"""The Train page's setup: the network and recipe form, its callbacks (a network's suited recipe,
the CPU suggestion, "train again", the offline data), the form brought back on a visit or a
reload, the estimate of what a run costs, and the runs a submission queues."""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from explorer import PRESETS, ResNetSpec, SpecError, analyze, fmt, preset, spec_from_dict
from explorer.arch.share import closest_preset
from explorer.inspect.teaching import TWIN_DEMO_RECIPE, TWIN_DEMO_SPEC, TWIN_EXPERIMENT, twin_runs
from explorer.training.data import DATASETS, OFFLINE_DATASET
from explorer.training.jobs import JobRegistry
from explorer.training.lr_range import RANGE_END, RANGE_START, RANGE_STEPS, test_name
from explorer.training.recipe import (
    CPU_RECIPE,
    DEVICES,
    OPTIMIZERS,
    PRECISIONS,
    RANGE_TEST,
    SCHEDULES,
    Recipe,
    recipe_from_dict,
    suggested_recipe,
)
from ui import access, checkpoint, state, training
from ui.text import plain
from ui.train_form import CURRENT, apply_recipe, read_url, recipe_from_form, write_url


@dataclass(frozen=True)
class Setup:
    """What the form describes once drawn, and which of its buttons was pressed."""

    name: str
    spec: ResNetSpec
    recipe: Recipe | None  # None: the form describes no valid recipe (said on the page)
    start: bool
    with_twin: bool
    find_lr: bool


def preset_of(network: str) -> str | None:
    """The preset a choice in the Network box stands for (the design's base if unedited)."""
    if network != CURRENT:
        return network
    return state.current_base() if state.current_spec() == preset(state.current_base()) else None


def network_changed() -> None:
    apply_recipe(suggested_recipe(preset_of(st.session_state.t_network)))


def use_cpu_suggestion() -> None:
    st.session_state.t_network = "resnet-mini"
    apply_recipe(CPU_RECIPE)


def use_twin_demo() -> None:
    """The demonstration of a shortcut's worth a CPU finishes in two minutes, into the form (the
    design becomes its network, as "Train again" does): then "Start, with its plain twin"."""
    st.session_state.spec, st.session_state.base = TWIN_DEMO_SPEC, closest_preset(TWIN_DEMO_SPEC)
    st.session_state.t_network = CURRENT
    apply_recipe(TWIN_DEMO_RECIPE)


def train_again(jobs: JobRegistry, run_id: int) -> None:
    """Load a stored run's network (as trained, fitted to its dataset) and recipe into the form."""
    run = jobs.store.get(run_id)
    if run is None or not training.may_control(jobs, run_id):
        return
    spec = spec_from_dict(run.spec)
    st.session_state.spec, st.session_state.base = spec, closest_preset(spec)  # the Design page follows
    st.session_state.t_network = CURRENT
    recipe = recipe_from_dict(run.recipe)
    if recipe.range_test:  # a range test's settings, to train with: its rate is the user's
        recipe = recipe.but(schedule=st.session_state.get("t_schedule", "constant"), lr=st.session_state.t_lr)
    apply_recipe(recipe)


def use_offline_data() -> None:
    st.session_state.t_dataset = OFFLINE_DATASET


def restore() -> None:
    """Before the form is drawn: the design from the Design page's link, or this session's last
    settings, or the link's (a reload), or on a first visit the recipe suited to the design."""
    if st.query_params.get("network") == "design":  # arrived from the Design page's "Train this network"
        del st.query_params["network"]
        st.session_state.t_network = CURRENT
        network_changed()
    elif "t_network" not in st.session_state:
        # Streamlit forgets a page's widgets while another page is shown: bring back this session's
        # last settings, or on a first visit the recipe suited to the design (d2l's for d2l-resnet18)
        saved = st.session_state.get("t_saved") or read_url()  # this session's, or the link's (a reload)
        st.session_state.t_network = saved[0] if saved else CURRENT
        if saved:
            apply_recipe(saved[1])
        else:
            network_changed()


def form(design: ResNetSpec, running: bool, lecture: bool) -> Setup:
    """The network box and the recipe form; what they describe."""
    if not training.gpu_available():
        c1, c2 = (st.container(), st.container()) if lecture else st.columns([4, 1])  # lecture type: "Use t…"
        c1.info(
            "No GPU here: a 96-px ResNet-18 takes many minutes per epoch on a CPU. resnet-mini at 28 px "
            "on 20,000 images trains in under a minute on two cores and reaches about 90% on Fashion-MNIST."
        )
        c2.button("Use that", key="t_cpu", on_click=use_cpu_suggestion, disabled=running)
        c1, c2 = (st.container(), st.container()) if lecture else st.columns([4, 1])
        c1.info(
            f"To see what shortcuts do: a {analyze(TWIN_DEMO_SPEC).depth}-layer ResNet at width "
            f"{TWIN_DEMO_SPEC.stem.width} and its plain twin, side by side on {TWIN_DEMO_RECIPE.limit:,} "
            f"{DATASETS[TWIN_DEMO_RECIPE.dataset].title} images at {TWIN_DEMO_RECIPE.resize} px (about a minute on "
            'two cores, benchmarks/RESULTS.md). Then press "Start, with its plain twin".'
        )
        c2.button("Twin demo", key="t_twin_demo", on_click=use_twin_demo, disabled=running)

    network = st.selectbox(
        "Network",
        [CURRENT, *PRESETS],
        key="t_network",
        on_change=network_changed,
        help="Choosing a network loads a recipe suited to it (d2l's for d2l-resnet18); adjust it below.",
    )
    # not an st.form: each edit reruns the page, so the estimate below is always of what is on screen
    with st.container(border=True):
        _recipe_widgets()
        if network == CURRENT and (opened := checkpoint.weights_for(design)):
            st.toggle(
                f"Start from the weights of {opened[1]}",
                value=True,
                key="t_from_weights",
                help="Fine-tuning: every layer from the checkpoint, the classifier fresh where the classes differ",
            )
        start, with_twin, find_lr = _buttons(running, lecture)
    spec = design if network == CURRENT else PRESETS[network]
    name = preset_of(network) or f"{state.current_base()} (edited)"
    st.caption(f"Network: **{name}**, {fmt.count(analyze(spec).total_params)} parameters (before fitting the dataset).")
    try:
        recipe = recipe_from_form()
        if network == CURRENT and (opened := checkpoint.weights_for(design)) and st.session_state.get("t_from_weights"):
            recipe = recipe.but(weights=opened[0])
        st.session_state.t_saved = (network, recipe)
        write_url(network, recipe)
    except SpecError as exc:
        st.error(f"Cannot train with these settings: {plain(exc)}")
        recipe = None
    return Setup(name, spec, recipe, start, with_twin, find_lr)


def _recipe_widgets() -> None:
    """One widget per Recipe field (keyed t_<field>), the rarer ones folded under More settings."""
    c1, c2 = st.columns([4, 1])
    c1.selectbox(
        "Dataset",
        list(DATASETS),
        key="t_dataset",
        format_func=lambda n: f"{DATASETS[n].title}" + (f" (~{DATASETS[n].download_mb} MB)" if n != "digits" else ""),
    )
    c2.number_input("Epochs", key="t_epochs", min_value=1, max_value=1000, step=1)
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input("Batch size", key="t_batch_size", min_value=1, max_value=65536, step=1)
    c2.number_input("Learning rate", key="t_lr", min_value=0.0, format="%.4f", step=0.01)
    c3.selectbox("Optimizer", OPTIMIZERS, key="t_optimizer", help="sgd: plain, as d2l; momentum: 0.9, Nesterov")
    c4.selectbox("Schedule", SCHEDULES, key="t_schedule")
    with st.expander("More settings", expanded=False):
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Resize to (px, 0 = as is)", key="t_resize", min_value=0, max_value=512, step=1)
        c2.number_input("Train on N images (0 = all)", key="t_limit", min_value=0, step=1000)
        c3.number_input("Weight decay", key="t_weight_decay", min_value=0.0, format="%.5f", step=0.0001)
        c4.number_input("Label smoothing", key="t_label_smoothing", min_value=0.0, max_value=0.5, step=0.05)
        c1.selectbox("Device", DEVICES, key="t_device")
        c2.selectbox("Precision", PRECISIONS, key="t_precision")
        c3.selectbox("Init", ["torchvision", "xavier"], key="t_init", help="xavier: as d2l's train_ch6")
        c4.number_input("Seed", key="t_seed", min_value=0, step=1)
        c1, c2, c3 = st.columns([3, 3, 2])
        c3.number_input(
            "Test on N images (0 = all)",
            key="t_test_limit",
            min_value=0,
            step=1000,
            help="A fixed subset of the test images, tested after every epoch: quicker demonstrations",
        )
        c1.toggle(
            "Augment the training images",
            key="t_augment",
            help="Random flips (where the labels allow) and shifts, made on the device with each batch.",
        )
        c2.toggle(
            "Compile the network (torch.compile)",
            key="t_compile",
            help="On a GPU each step runs about 1.4x faster, after compiling for about 30 s the first time "
            "a network is trained (cached on disk for later runs): worth it for runs of a few minutes. "
            "No gain on CPUs.",
        )


def _buttons(running: bool, lecture: bool) -> tuple[bool, bool, bool]:
    """The form's buttons: Start, Start with the plain twin, Find a learning rate."""
    # lecture type at 1024 px cuts three labels in a row: Start and the twin, then the range test
    c1, c2, c3 = [*st.columns([1, 2]), st.container()] if lecture else st.columns([1, 2, 2])
    start = c1.button("Start", type="primary", disabled=running, key="t_start")
    with_twin = c2.button(
        "Start, with its plain twin",
        disabled=running,
        key="t_twin",
        help="Trains this network and the same layers without shortcuts side by side, on the same data "
        "in the same order: He et al.'s comparison, curves and gradients overlaid",
    )
    find_lr = c3.button(
        "Find a learning rate",
        disabled=running,
        key="t_range",
        help=f"A range test instead of training: {RANGE_STEPS} steps with the learning rate growing from "
        f"{RANGE_START:g} to {RANGE_END:g}, with this network, data, batch and optimizer; it suggests a rate.",
    )
    return start, with_twin, find_lr


def estimate(jobs: JobRegistry, setup: Setup) -> None:
    """What the run on screen costs here, by arithmetic on the plan and the measured speed."""
    spec, recipe = setup.spec, setup.recipe
    try:  # arithmetic on the plan: nothing is built or timed here (Start checks it again)
        with st.spinner("Measuring this machine's training speed (once, as the server's worker starts)…"):
            cost = jobs.cost(spec, recipe, access.submitter(), wait=30)
        if problem := jobs.worker_problem(jobs.backend.device_type(recipe.device)):
            st.error(f"Training is unavailable here: {plain(problem)}.")
    except SpecError as exc:
        st.error(f"Not trainable on this server as set: {plain(exc)}")
    else:
        if run_time := cost.estimate:
            compiled = (
                " Compiling adds about 30 s the first time this network is trained; on a GPU the compiled "
                "steps are then about 1.4x faster than this estimate."
                if recipe.compile
                else ""
            )
            st.info(
                f"Estimated here for {DATASETS[recipe.dataset].title}, batch {recipe.batch_size}: about "
                f"**{fmt.duration(run_time.epoch_seconds)} per epoch**, "
                f"{fmt.duration(run_time.run_seconds())} for {recipe.epochs} epochs; a learning-rate range test "
                f"at most {fmt.duration(run_time.range_test_seconds)} (from this machine's measured speed; "
                f"{fmt.nbytes(cost.memory)} of memory)." + compiled
            )


def submit(jobs: JobRegistry, setup: Setup) -> list[int] | None:
    """Queue what was asked for: the run, a range test instead, or the run and its plain twin."""
    name, spec, recipe = setup.name, setup.spec, setup.recipe
    runs, experiment = [(name, spec, recipe)], None
    if setup.find_lr:
        runs = [(test_name(name), spec, recipe.but(schedule=RANGE_TEST))]
    elif setup.with_twin:
        runs = twin_runs(name, spec, recipe)  # one experiment per pair: the session's id keeps pairs apart
        experiment = f"{TWIN_EXPERIMENT} {time.strftime('%Y-%m-%d %H:%M:%S')} {access.owner()[:4]}"
    return training.submit(jobs, runs, experiment)
