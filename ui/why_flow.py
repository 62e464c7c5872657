"""The Why residuals? page's gradient-flow section: a plain and a residual network at initialisation,
forward signal, weight gradients and shattering, with the sentences computed from what is plotted
(explorer/inspect/gradient_flow.py)."""

from __future__ import annotations

import threading

import streamlit as st
from streamlit import runtime

from explorer.inspect.gradient_flow import LINE_POINTS, FlowMeasure, flow_readout, measure_flow
from explorer.inspect.teaching import cifar_spec
from ui import chart_text, charts
from ui.lecture import lecture_requested

DEPTHS = [8, 14, 20, 32, 44, 56, 110]
DEFAULT = {"depth": 56, "width": 16, "bn": True, "zero_init": False, "init": "torchvision"}


@st.cache_data(show_spinner=False, max_entries=64)
def flows(depth: int, width: int, bn: bool, zero_init: bool, init: str) -> dict[str, FlowMeasure]:
    out = {}
    for residual in (False, True):
        spec = cifar_spec(depth, width, residual, batch_norm=bn, zero_init_residual=zero_init and residual)
        out["residual" if residual else "plain"] = measure_flow(spec, init)
    return out


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Measure the section at its defaults in the background, once per server process: the page's
    first visit took 3.5-4 s measuring them on the server's one torch thread (benchmarks/ui_latency.py;
    issue 23 asks for 1 s). A visitor meanwhile waits for the same measurement, not a second one
    (st.cache_data computes a value once however many ask). Only in a running server: under AppTest
    the thread would share the test process's global torch generator with the tests, and seeded
    tests drew other numbers (a CI run: test_options' zero-init losses)."""
    if not runtime.exists():
        return False
    threading.Thread(target=flows, kwargs=DEFAULT, name="explorer-warm-flow", daemon=True).start()
    return True


def controls() -> tuple[int, int, str, bool, bool]:
    c1, c2, c3 = st.columns([3, 3, 2])
    depth = c1.select_slider("Depth (layers)", options=DEPTHS, value=DEFAULT["depth"], key="w_depth")
    width = c2.select_slider("Width", options=[8, 16, 32], value=DEFAULT["width"], key="w_width")
    inits = ["torchvision", "xavier"]
    init = c3.selectbox(
        "Init",
        inits,
        index=inits.index(DEFAULT["init"]),
        key="w_init",
        help="torchvision: Kaiming (He et al. 2015); xavier: d2l's",
    )
    switches = st.container(horizontal=True, gap="large")  # whole labels, side by side below
    bn = switches.toggle("Batch norm", value=DEFAULT["bn"], key="w_bn")
    zero_init = switches.toggle(
        "Zero-init last layer",
        value=DEFAULT["zero_init"],
        key="w_zero",
        help="Each residual branch's last layer (its BN, or its conv without BN) starts at zero, so every "
        "block starts as the identity (Goyal et al. 2017)",
    )
    return depth, width, init, bn, zero_init


def flow() -> None:
    st.subheader("At initialisation: plain against residual")
    depth, width, init, bn, zero_init = controls()
    with st.spinner("Measuring both networks at initialisation…"):
        result = flows(depth, width, bn, zero_init, init)
    plain, residual = result["plain"], result["residual"]
    names = (f"plain-{depth}", f"resnet-{depth}")

    def series(values: str) -> list:
        if values == "signal":
            return [(names[0], *plain.stream, "dash"), (names[1], *residual.stream, "solid")]
        return [(names[0], plain.depth_index, getattr(plain, values), "dash"),
                (names[1], residual.depth_index, getattr(residual, values), "solid")]  # fmt: skip

    # side by side at a desk; one under the other on a projector, where two would cut their titles
    c1, c2 = (st.container(), st.container()) if lecture_requested() else st.columns(2)
    signal = charts.gradient_flow(series("signal"), "RMS", "Forward: the signal entering each block")
    chart_text.plot(c1, signal, "w_signal_chart")
    grads = charts.gradient_flow(series("grad_norm"), "‖∂loss/∂W‖", "Backward: the gradient of each layer's weights")
    chart_text.plot(c2, grads, "w_flow_chart")
    m1, m2 = st.columns(2)
    m1.metric(f"{names[0]}: correlation of neighbouring inputs' gradients", f"{plain.correlation:.2f}")
    m2.metric(f"{names[1]}: correlation of neighbouring inputs' gradients", f"{residual.correlation:.2f}")
    for sentence in flow_readout(plain, residual):
        st.markdown(sentence)
    st.caption(
        "Layer 1 is the first convolution, at the input; the signal is read where it enters each block (the "
        "first layer of each). One random batch with random labels; the "
        f"correlation is that of the input gradients of one output at {LINE_POINTS} inputs spaced "
        "evenly along a line (Balduzzi et al. 2017): 1 is a smooth landscape, 0 is white noise. Without batch "
        "norm the sizes are the initialisation's doing (Xavier is scaled for linear layers, Kaiming for ReLU "
        "layers: He et al. 2015); batch norm rescales every layer's signal (Yang et al. 2019 on what it does to "
        "a deep plain network's gradient). Every "
        "residual block adds a path on which the signal passes unchanged: the measurements above show what that does."
    )
