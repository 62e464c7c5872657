"""The current design: one ResNetSpec in the session, mirrored into the Design page's widgets and URL.

`st.session_state.spec` is the single source of truth shared by every page. The Design page
writes it from its widgets (when they describe a valid network) and loads it back into them
whenever the widgets' state is missing (after another page was open, Streamlit drops it).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from explorer import (
    DEFAULT_PRESET,
    PRESETS,
    InputSpec,
    ResNetSpec,
    SpecError,
    StageSpec,
    StemSpec,
    check,
    preset,
)
from explorer.arch.share import from_query, to_query
from explorer.arch.spec import BOTTLENECKS
from ui.text import plain

NETWORK_DEFAULT = "network"  # the stage table's shortcut column: use the network's shortcut
STAGE_COLUMNS = ["blocks", "channels", "stride", "shortcut"]

# widget key -> (how to read it from a spec)
FIELDS = {
    "d_in_c": lambda s: s.input.channels,
    "d_in_h": lambda s: s.input.height,
    "d_in_w": lambda s: s.input.width,
    "d_classes": lambda s: s.num_classes,
    "d_stem_kind": lambda s: s.stem.kind,
    "d_stem_width": lambda s: s.stem.width,
    "d_block": lambda s: s.block,
    "d_groups": lambda s: s.groups,
    "d_wpg": lambda s: s.width_per_group,
    "d_shortcut": lambda s: s.shortcut,
    "d_residual": lambda s: s.residual,
    "d_bias": lambda s: s.conv_bias,
    "d_bn": lambda s: s.batch_norm,
    "d_projbn": lambda s: s.shortcut_bn,
    "d_zeroinit": lambda s: s.zero_init_residual,
    # the family's options (timm's names for them in the help texts)
    "d_stem_pool": lambda s: s.stem.pool,
    "d_stem_norm": lambda s: s.stem.norm,
    "d_norm": lambda s: s.norm,
    "d_act": lambda s: s.activation,
    "d_attn": lambda s: s.attention,
    "d_se": lambda s: s.se_reduction,
    "d_aa": lambda s: s.anti_alias,
    "d_stride_on": lambda s: s.stride_on,
    "d_os": lambda s: s.output_stride,
    "d_reduce": lambda s: s.reduce_first,
    "d_skipk": lambda s: s.shortcut_kernel,
    "d_droppath": lambda s: s.drop_path,
    "d_dropout": lambda s: s.dropout,
}


def current_spec() -> ResNetSpec:
    """The session's design: from the URL at a session's first visit, else what was last built.
    A link to a network that cannot be built leaves the session its preset, and the link's network
    for the Design page's tutor to explain (`url_network`)."""
    if "spec" not in st.session_state:
        spec, base, problem, unbuildable = spec_from_url()
        st.session_state.spec, st.session_state.base = spec, base
        st.session_state.url_problem, st.session_state.url_network = problem, unbuildable
    return st.session_state.spec


def current_base() -> str:
    current_spec()
    return st.session_state.base


def spec_from_url() -> tuple[ResNetSpec, str, str | None, ResNetSpec | None]:
    """The network the URL describes, or a preset to show instead, what was wrong with the URL,
    and the URL's network where it parses but cannot be built (F(x) + x does not fit)."""
    try:
        spec, base = from_query(st.query_params.to_dict())
    except SpecError as exc:
        return PRESETS[DEFAULT_PRESET], DEFAULT_PRESET, str(exc), None
    try:
        check(spec)
    except SpecError as exc:
        return preset(base), base, str(exc), spec
    return spec, base, None, None


def url_warning() -> None:
    """Say once, on whichever page a session starts, what was wrong with its link."""
    if problem := st.session_state.pop("url_problem", None):
        st.warning(f"The link's network could not be used ({plain(problem)}). Showing {current_base()} instead.")


def stages_frame(spec: ResNetSpec) -> pd.DataFrame:
    rows = [
        {"blocks": s.blocks, "channels": s.channels, "stride": s.stride, "shortcut": s.shortcut or NETWORK_DEFAULT}
        for s in spec.stages
    ]
    return pd.DataFrame(rows, columns=STAGE_COLUMNS)


def load_into_widgets(spec: ResNetSpec, base: str, set_picker: bool = True, as_design: bool = True) -> None:
    """Make every Design widget show `spec` (call before the widgets are drawn in a run); it becomes
    the session's design too unless `as_design` is False (a link's unbuildable network, for the tutor)."""
    if as_design:
        st.session_state.spec = spec
    st.session_state.base = base
    for key, read in FIELDS.items():
        st.session_state[key] = read(spec)
    st.session_state.d_stages_base = stages_frame(spec)
    st.session_state.d_stages_ver = st.session_state.get("d_stages_ver", 0) + 1
    st.session_state.d_loaded_preset = base
    if set_picker:
        st.session_state.d_preset = base


def ensure_widgets() -> None:
    """Widget state is dropped while another page is shown: restore it from the session's spec."""
    if any(key not in st.session_state for key in FIELDS) or "d_stages_base" not in st.session_state:
        load_into_widgets(current_spec(), current_base())


def _cell(value: Any, row: int, column: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise SpecError(f"stages[{row}].{column}", "empty cell; fill it in or delete the row")
    return value


def _whole(value: Any, row: int, column: str) -> int:
    value = _cell(value, row, column)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    raise SpecError(f"stages[{row}].{column}", f"expected a whole number, got {value!r}")


def stages_from_frame(frame: pd.DataFrame) -> tuple[StageSpec, ...]:
    stages = []
    for i, row in enumerate(frame.to_dict("records")):
        shortcut = _cell(row.get("shortcut"), i, "shortcut")
        stages.append(
            StageSpec(
                _whole(row.get("blocks"), i, "blocks"),
                _whole(row.get("channels"), i, "channels"),
                _whole(row.get("stride"), i, "stride"),
                None if shortcut == NETWORK_DEFAULT else shortcut,
            )
        )
    if not stages:
        raise SpecError("stages", "no stages; add at least one row")
    return tuple(stages)


def spec_from_widgets(frame: pd.DataFrame) -> ResNetSpec:
    """The network the widgets describe; SpecError naming the field if they describe none."""
    s = st.session_state
    block = s.d_block
    bottleneck = block in BOTTLENECKS
    return ResNetSpec(
        input=InputSpec(int(s.d_in_c), int(s.d_in_h), int(s.d_in_w)),
        num_classes=int(s.d_classes),
        stem=StemSpec(s.d_stem_kind, int(s.d_stem_width), s.d_stem_pool, bool(s.d_stem_norm)),
        block=block,
        groups=int(s.d_groups) if bottleneck else 1,
        width_per_group=int(s.d_wpg) if bottleneck else 64,
        stages=stages_from_frame(frame),
        shortcut=s.d_shortcut,
        residual=bool(s.d_residual),
        conv_bias=bool(s.d_bias),
        batch_norm=bool(s.d_bn),
        shortcut_bn=bool(s.d_projbn),
        zero_init_residual=bool(s.d_zeroinit),
        norm=s.d_norm,
        activation=s.d_act,
        attention=s.d_attn,
        se_reduction=int(s.d_se),
        anti_alias=s.d_aa,
        stride_on=s.d_stride_on if bottleneck else "3x3",
        output_stride=None if s.d_os is None else int(s.d_os),
        reduce_first=int(s.d_reduce),
        shortcut_kernel=int(s.d_skipk),
        drop_path=float(s.d_droppath),
        dropout=float(s.d_dropout),
    )


def write_url(spec: ResNetSpec, base: str) -> None:
    """Put the design in the address bar, keeping the page's other parameters (lecture, job, follow:
    a reload of a following student's page follows on)."""
    wanted = to_query(spec, base)
    for key in list(st.query_params):
        if key not in wanted and key not in ("lecture", "job", "key", "follow"):
            del st.query_params[key]
    for key, value in wanted.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value
