"""Look inside one part of the network (clicked in the diagram, or picked here): its numbers, its
skip path, and what it makes of a sample image, at initialisation or with a trained run's weights."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import streamlit as st
import torch

from explorer import SpecError, build_model, fmt, spec_from_json
from explorer.arch.layers import NetworkPlan
from explorer.hall.budget import check_build
from explorer.inspect.feature_maps import tile
from explorer.inspect.look_inside import layers_of, part_names, part_output, part_view, sample_input
from explorer.inspect.predict import can_predict
from explorer.training.data import DatasetError
from explorer.training.run_record import RunRecord
from ui import access, training
from ui.admission import heavy, plan_bytes
from ui.text import plain
from ui.try_it import MAPS_COLUMNS, MAPS_SHOWN, maps_picture, run_predictor, test_split

AT_INIT = "at initialisation"
INIT_SEED = 0  # the same random weights on every visit, so what a class sees agrees


@st.cache_resource(max_entries=2, show_spinner="Building the network…")
def _initial_model(spec_json: str) -> tuple[torch.nn.Module, threading.Lock]:
    """The design with seeded random weights, shared by sessions under its lock (hooks go on it)."""
    torch.manual_seed(INIT_SEED)
    return build_model(spec_from_json(spec_json)).eval(), threading.Lock()


def _trained_runs(spec_json: str) -> list[RunRecord]:
    """Completed runs of exactly this design whose weights are kept, newest first."""
    jobs = training.registry()
    if jobs is None:
        return []
    spec = spec_from_json(spec_json).to_dict()
    return [r for r in jobs.store.list() if r.status == "completed" and r.spec == spec and can_predict(r)]


def _output(spec_json: str, name: str, run: RunRecord | None) -> tuple[torch.Tensor, str]:
    """The part's output for the sample (the digit, or the run's first test image), and what it was."""
    if run is None:
        model, lock = _initial_model(spec_json)
        with lock:
            return part_output(model, name, sample_input(spec_from_json(spec_json))), "a digit"
    try:
        x_test, _ = test_split(run.recipe["dataset"])
    except DatasetError:  # the run's dataset is gone from this server: the digit, as prepared here
        predictor = run_predictor(run)
        with predictor.lock:
            return part_output(predictor.model, name, sample_input(predictor.spec)), "a digit"
    return run_predictor(run).part_output(x_test[:1], name), f"the first {run.recipe['dataset']} test image"


def _numbers(plan: NetworkPlan, name: str) -> None:
    view = part_view(plan, name)
    out = "class scores " + str(view.out_shape[0]) if name == "head" else fmt.shape(view.out_shape)
    st.markdown(f"**{name}**: {fmt.shape(view.in_shape)} in, {out} out, {fmt.count(view.params)} parameters")
    if view.arithmetic:
        total = f"\n{'total':>{len(view.arithmetic[0].split(':')[0])}}: {fmt.count(view.params)}"
        st.code(
            "\n".join(view.arithmetic) + (total if len(view.arithmetic) > 1 else ""), language=None, wrap_lines=True
        )
    if view.skip:
        st.markdown(f"Skip connection: {view.skip}")


@st.cache_data(max_entries=16, show_spinner=False)
def _output_of(spec_json: str, name: str, run_id: int) -> tuple[np.ndarray, str]:
    """_output, kept per design, module and run (0: the initial weights): a rerun of the page
    does not run the network again."""
    jobs = training.registry()
    run = jobs.store.get(run_id) if run_id and jobs is not None else None
    out, sample = _output(spec_json, name, run)
    return out.numpy(), sample


def _choose_output(plan: NetworkPlan, part: str) -> str:
    """The module whose output is drawn: the whole part, or one of its layers."""
    layers = {layer.name: layer for layer in layers_of(plan, part)}
    whole = "the whole block" if part not in ("stem", "head") else f"the {part}'s output"
    key = f"d_look_layer_{part}"  # each part remembers its own choice
    return st.selectbox(
        "Output of",
        [part, *layers],
        key=key,
        format_func=lambda n: (
            whole if n == part else f"{n.removeprefix(part + '.')}: {layers[n].kind}, {fmt.shape(layers[n].out_shape)}"
        ),
    )


def _pictures(spec_json: str, name: str, run: RunRecord | None, plan: NetworkPlan) -> None:
    with heavy(plan_bytes(plan), "Looking inside"), st.spinner("Running the sample through the network…"):
        out, sample = _output_of(spec_json, name, run.id if run else 0)
    weights = AT_INIT if run is None else f"run #{run.id}'s trained weights"
    if out.ndim == 1:  # the head: one score per class
        frame = pd.DataFrame({"class": list(range(len(out))), "score": out})
        st.bar_chart(frame, x="class", y="score", height=220)
        st.caption(f"The class scores for {sample}, {weights}.")
        return
    maps = torch.from_numpy(out)
    channels, height, width = maps.shape
    strongest = maps.mean(dim=(1, 2)).argsort(descending=True)[:MAPS_SHOWN].tolist()
    st.image(
        maps_picture(tile(maps[strongest], columns=MAPS_COLUMNS)),
        alt=f"Feature maps of {name}: {len(strongest)} channels of {height}×{width} as a grid",
    )
    st.caption(
        f"What {name} gives for {sample}, {weights}: {channels} channels of {height}×{width}; "
        + ("the " + str(len(strongest)) if channels > MAPS_SHOWN else "all")
        + " strongest first, each on its own scale (bright: strong)."
    )


def look_inside(spec_json: str, plan: NetworkPlan) -> None:
    """The panel beside the diagram for the part in st.session_state.d_look (a click sets it)."""
    parts = part_names(plan)
    if st.session_state.get("d_look") not in parts:
        st.session_state.d_look = parts[1] if len(parts) > 2 else parts[0]
    st.selectbox("Look inside", parts, key="d_look", help="Or click a block in the diagram")
    _numbers(plan, st.session_state.d_look)
    # off by default: building and running a large network takes seconds, and every edit of the
    # design would pay them (and a read of the run history) before the next change shows
    if not st.toggle("Run a sample image through it", key="d_look_run", help="Builds this network on the server"):
        return
    try:  # the server builds it for this: only if it fits
        check_build(plan, access.limits())
    except SpecError as exc:
        st.caption(f"Not run here: {plain(exc)}")
        return
    runs = {run.id: run for run in _trained_runs(spec_json)}
    # one above the other: side by side, the panel's half-width cut "at initialisation" short
    picked = st.selectbox(
        "Weights",
        [0, *runs],  # run ids start at 1: 0 stands for the random initial weights
        key="d_look_weights",
        format_func=lambda i: runs[i].name + f" (run #{i}), trained" if i else AT_INIT,
        help="Runs of exactly this design that finished and kept their weights",
    )
    output = _choose_output(plan, st.session_state.d_look)
    _pictures(spec_json, output, runs.get(picked), plan)
