"""Train: train the designed network in the browser and watch the curves stream in."""

import json

import streamlit as st

from explorer import PRESETS, SpecError, analyze, fmt, spec_from_dict, spec_from_json
from explorer.data import DATASETS, OFFLINE_DATASET
from explorer.estimate import Estimate, estimate
from explorer.lr_range import RANGE_END, RANGE_START, RANGE_STEPS, test_name
from explorer.recipe import (
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
from explorer.share import closest_preset
from ui import state, training
from ui.lecture import lecture_toggle

CURRENT = "Current design"
lecture_toggle()
design = state.current_spec()
jobs = training.registry()
store = jobs.store
st.title("Train")


def apply_recipe(recipe: Recipe) -> None:
    for field, value in recipe.__dict__.items():
        st.session_state[f"t_{field}"] = value if value is not None else 0


def preset_of(network: str) -> str | None:
    """The preset a choice in the Network box stands for (the design's base if unedited)."""
    if network != CURRENT:
        return network
    return state.current_base() if design == PRESETS[state.current_base()] else None


def network_changed() -> None:
    apply_recipe(suggested_recipe(preset_of(st.session_state.t_network)))


def use_cpu_suggestion() -> None:
    st.session_state.t_network = "resnet-mini"
    apply_recipe(CPU_RECIPE)


def open_run(run_id: int) -> None:
    """Follow a stored run, as if it had just ended: its curves, results, network and downloads."""
    st.session_state.t_job = run_id
    st.query_params["job"] = str(run_id)


def train_again(run_id: int) -> None:
    """Load a stored run's network (as trained, fitted to its dataset) and recipe into the form."""
    run = store.get(run_id)
    if run is None:
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


if st.query_params.get("network") == "design":  # arrived from the Design page's "Train this network"
    del st.query_params["network"]
    st.session_state.t_network = CURRENT
    network_changed()
elif "t_network" not in st.session_state:
    # Streamlit forgets a page's widgets while another page is shown: bring back this session's
    # last settings, or on a first visit the recipe suited to the design (the seed's for d2l-resnet18)
    saved = st.session_state.get("t_saved")
    st.session_state.t_network = saved[0] if saved else CURRENT
    if saved:
        apply_recipe(saved[1])
    else:
        network_changed()

# ----- which run this session follows -----------------------------------------------------------
if "job" in st.query_params and "t_job" not in st.session_state:
    try:
        st.session_state.t_job = int(st.query_params["job"])
    except ValueError:
        st.warning(f"Ignoring ?job={st.query_params['job']!r}: not a run number.")
job_id = st.session_state.get("t_job")
snap = jobs.snapshot(job_id) if job_id is not None else None
running = snap is not None and not snap.finished

# ----- the form ------------------------------------------------------------------------------------
if not training.gpu_available():
    c1, c2 = st.columns([4, 1])
    c1.info(
        "No GPU here: a 96-px ResNet-18 takes many minutes per epoch on a CPU. resnet-mini at 28 px "
        "on 20,000 images trains in under a minute on two cores and reaches about 90% on Fashion-MNIST."
    )
    c2.button("Use that", key="t_cpu", on_click=use_cpu_suggestion, disabled=running)

network = st.selectbox(
    "Network",
    [CURRENT, *PRESETS],
    key="t_network",
    on_change=network_changed,
    help="Choosing a network loads a recipe suited to it (the seed's for d2l-resnet18); adjust it below.",
)
with st.form("t_form", border=True):
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
        c1, c2 = st.columns(2)
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
    c1, c2, c3 = st.columns([1, 2, 2])
    start = c1.form_submit_button("Start", type="primary", disabled=running, key="t_start")
    c2.form_submit_button("Re-estimate", disabled=running, key="t_estimate")
    find_lr = c3.form_submit_button(
        "Find a learning rate",
        disabled=running,
        key="t_range",
        help=f"A range test instead of training: {RANGE_STEPS} steps with the learning rate growing from "
        f"{RANGE_START:g} to {RANGE_END:g}, with this network, data, batch and optimizer; it suggests a rate.",
    )


def recipe_from_form() -> Recipe:
    s = st.session_state
    return Recipe(
        dataset=s.t_dataset,
        epochs=int(s.t_epochs),
        batch_size=int(s.t_batch_size),
        lr=float(s.t_lr),
        optimizer=s.t_optimizer,
        weight_decay=float(s.t_weight_decay),
        schedule=s.t_schedule,
        label_smoothing=float(s.t_label_smoothing),
        resize=int(s.t_resize) or None,
        augment=bool(s.t_augment),
        compile=bool(s.t_compile),
        limit=int(s.t_limit) or None,
        seed=int(s.t_seed),
        init=s.t_init,
        device=s.t_device,
        precision=s.t_precision,
    )


spec = design if network == CURRENT else PRESETS[network]
name = preset_of(network) or f"{state.current_base()} (edited)"
st.caption(f"Network: **{name}**, {fmt.count(analyze(spec).total_params)} parameters (before fitting the dataset).")
try:
    recipe = recipe_from_form()
    st.session_state.t_saved = (network, recipe)
except SpecError as exc:
    st.error(f"Cannot train with these settings: {exc}")
    recipe = None


@st.cache_data(max_entries=32, show_spinner=False)
def timed(spec_json: str, recipe_json: str) -> Estimate:
    return estimate(spec_from_json(spec_json), recipe_from_dict(json.loads(recipe_json)))


if recipe and not running and not jobs.active():  # time a few steps only while the device is free
    with st.spinner("Timing a few training steps to estimate the run…"):
        try:
            run_time = timed(spec.to_json(), recipe.but(compile=False).to_json())  # timed uncompiled
            seconds = run_time.epoch_seconds
            compiled = (
                " Compiling adds about 30 s the first time this network is trained; on a GPU the compiled "
                "steps are then about 1.4x faster than this estimate."
                if recipe.compile
                else ""
            )
            st.info(  # says what it was timed for: the form's edits count only once submitted
                f"Estimated here for {DATASETS[recipe.dataset].title}, batch {recipe.batch_size}: about "
                f"**{fmt.duration(seconds)} per epoch**, "
                f"{fmt.duration(seconds * recipe.epochs)} for {recipe.epochs} epochs; a learning-rate range test "
                f"at most {fmt.duration(run_time.range_test_seconds)} (from a few timed steps)." + compiled
            )
        except (SpecError, RuntimeError) as exc:
            st.error(f"Could not time it: {exc}")
if recipe and (start or find_lr):
    if find_lr:
        recipe, name = recipe.but(schedule=RANGE_TEST), test_name(name)
    job_id = jobs.submit(spec, recipe, name)
    st.session_state.t_job = job_id
    st.query_params["job"] = str(job_id)
    st.rerun()

# ----- the run: live while it trains ------------------------------------------------------------
if job_id is not None:
    st.divider()

    def again_button(run_id: int) -> None:
        if st.button(
            "Train again with these settings",
            key="t_again",
            on_click=train_again,
            args=(run_id,),
            icon=":material/replay:",
            help="Its network and recipe into the form above, to start again or change first",
        ):
            st.rerun()  # the whole page: the form is outside this fragment

    @st.fragment(run_every=0.5 if running else None)
    def live_run() -> None:
        snap = jobs.snapshot(job_id)
        if snap is None:  # not in this server's registry: a stored run (the server restarted)
            run = store.get(job_id)
            if run is None:
                st.warning(f"Run {job_id} does not exist (deleted?).")
                return
            st.subheader(f"Run {run.id}: {run.name}")
            st.write(f"{run.status.capitalize()}: {run.message}")
            again_button(run.id)
            if run.range_test:
                training.range_test(store.steps(run.id), f"stored_{run.id}", finished=True)
                return
            training.epoch_metrics(store.epochs(run.id))
            training.live_curves(run.name, store.steps(run.id), store.epochs(run.id), f"stored_{run.id}")
            training.results(store, run)
            return
        st.subheader(f"Run {snap.id}: {snap.name}")
        c1, c2 = st.columns([5, 1])
        c1.write(training.status_line(snap))
        if not snap.finished:
            c2.button("Stop", key="t_stop", on_click=jobs.stop, args=(snap.id,), type="secondary")
        elif store.get(snap.id) is not None:
            again_button(snap.id)
        for line in snap.log[-3:]:
            st.caption(line)
        training.progress(snap)
        if training.range_testing(snap):
            training.range_test(snap.steps, f"live_{snap.id}", finished=snap.finished)
        else:
            training.epoch_metrics(snap.epochs)
            training.live_curves(snap.name, snap.steps, snap.epochs, f"live_{snap.id}")
        if snap.finished and running:
            st.rerun()  # a full rerun: stop polling, show the results below
        if snap.status == "failed" and f"'{OFFLINE_DATASET}'" in snap.message:
            st.button("Train on the offline digits instead", key="t_offline", on_click=use_offline_data)

    live_run()
    if snap is not None and snap.finished and (run := store.get(job_id)) and not run.range_test:
        training.results(store, run)

# ----- history -------------------------------------------------------------------------------------
st.divider()
st.subheader("Run history")
runs = store.list()
if not runs:
    st.caption(f"No runs yet. They are kept in {store.path}.")
else:
    frame = training.history_frame(runs)
    picked = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="t_history",
        column_config=training.HISTORY_COLUMNS,
    )
    chosen = [runs[i] for i in picked.selection.rows]
    if chosen:
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
                on_click=open_run,
                args=(chosen[0].id,),
                icon=":material/open_in_browser:",
                help="Its results above: confusion matrix, the images it got wrong, try it on an image, downloads",
            )
        if actions.button(f"Delete {len(chosen)} selected run(s)", key="t_delete"):
            kept = []
            for run in chosen:
                if not jobs.delete(run.id):
                    kept.append(f"#{run.id}")
                elif run.id == job_id:  # the run on show: close it
                    del st.session_state.t_job
                    st.query_params.pop("job", None)
            if kept:
                st.warning(f"Not deleted, still queued or training: {', '.join(kept)}. Stop it first.")
            else:
                st.rerun()
    else:
        st.caption(f"Select runs to overlay their curves, open one, or delete them. Stored in {store.path}.")
