"""Why residuals? d2l's argument, measured live: identity, gradients, degradation, BN."""

import streamlit as st

from ui import training, why_degradation, why_flow, why_residuals
from ui.lecture import lecture_requested

st.title("Why residuals?")
st.markdown(
    "A block computes **f(x) = g(x) + x**: adding a block can never cost the network what it already had, "
    "and the gradient has a path around every block. Here each claim is measured, not asserted."
)
tabs = st.tabs(["The identity", "Gradient flow", "Degradation", "BN and the learning rate", "Build a block", "Quiz"])
with tabs[0]:
    why_residuals.identity()
with tabs[1]:
    why_flow.flow()
with tabs[2]:  # the experiments train: without a run history (a broken runs.sqlite) they say why, once
    jobs = training.registry()
    why_degradation.degradation(jobs, training.gpu_available())
with tabs[3]:
    why_residuals.lr_sweep(jobs)
    st.divider()
    why_residuals.range_tests(jobs)
with tabs[4]:
    why_residuals.build_a_block(lecture_requested())
with tabs[5]:
    why_residuals.quiz()
