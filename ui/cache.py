"""Cached, pure computations for the pages, keyed by a spec's JSON text (a simple hashable key)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer import Analysis, analyze_plan, fmt, plan_network, spec_from_json, to_code
from explorer.arch.diagram import outline
from explorer.arch.diagram_svg import to_svg


@st.cache_data(max_entries=64, show_spinner=False)
def analysis(spec_json: str) -> Analysis:
    return analyze_plan(plan_network(spec_from_json(spec_json)))


@st.cache_data(max_entries=64, show_spinner=False)
def layer_table(spec_json: str) -> pd.DataFrame:
    a = analysis(spec_json)
    return pd.DataFrame(
        {
            "layer": [layer.name for layer in a.layers],
            "kind": [layer.kind for layer in a.layers],
            "detail": [layer.detail for layer in a.layers],
            "output": [fmt.shape(layer.out_shape) for layer in a.layers],
            "params": [layer.params for layer in a.layers],
            "MACs": [layer.macs for layer in a.layers],
            "receptive field (px)": [layer.rf for layer in a.layers],
        }
    )


@st.cache_data(max_entries=64, show_spinner=False)
def stage_table(spec_json: str) -> pd.DataFrame:
    """Per stage: blocks, output, params and MACs (in the unit `fmt.macs_unit` picks for the network)."""
    a = analysis(spec_json)
    unit = fmt.macs_unit(a.macs)
    return pd.DataFrame(
        {
            "stage": [s.name for s in a.stages],
            "blocks": [s.blocks for s in a.stages],
            "output": [fmt.shape(s.output_shape) for s in a.stages],
            "params": [s.params for s in a.stages],
            unit.name: [s.macs / unit.scale for s in a.stages],
        }
    )


@st.cache_data(max_entries=64, show_spinner=False)
def diagram(spec_json: str, expand: bool, direction: str = "TB", stage: str | None = None) -> str:
    """The diagram as SVG, laid out here (milliseconds) so that the browser only paints it."""
    return to_svg(plan_network(spec_from_json(spec_json)), expand=expand, direction=direction, stage=stage)


@st.cache_data(max_entries=64, show_spinner=False)
def diagram_outline(spec_json: str) -> str:
    """The diagram as a Markdown list of stages and blocks: its text alternative."""
    return "\n".join(outline(plan_network(spec_from_json(spec_json))))


@st.cache_data(max_entries=32, show_spinner=False)
def code(spec_json: str, title: str) -> str:
    return to_code(spec_from_json(spec_json), title)


@st.cache_data(max_entries=8, show_spinner=False)
def torchinfo_summary(spec_json: str) -> str:
    """torchinfo's own table: builds the model and runs a real forward pass (seconds for big nets),
    in a process of its own (explorer/hall/offload.py)."""
    from ui.admission import offload

    return offload().torchinfo(spec_json)
