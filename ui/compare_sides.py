"""The Compare page's parts: each side's network (a source, then edits), the totals of B against
A, and the stage-by-stage table with the stages that differ marked."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from explorer import PRESETS, Analysis, ResNetSpec, SpecError, check, fmt
from explorer.arch.share import stages_from_text, stages_to_text
from explorer.arch.spec import BLOCKS, SHORTCUTS, input_from_text
from ui import cache, diagram_view, state
from ui.text import plain

CURRENT = "Current design"
DIFFERS_CSS = "background-color: #fff3bf"


def source_spec(name: str) -> ResNetSpec:
    return state.current_spec() if name == CURRENT else PRESETS[name]


def load_side(side: str) -> None:
    """Fill a side's edit fields from its chosen source (called when the source changes)."""
    spec = source_spec(st.session_state[f"c_src_{side}"])
    st.session_state[f"c_input_{side}"] = f"{spec.input.channels},{spec.input.height},{spec.input.width}"
    st.session_state[f"c_classes_{side}"] = spec.num_classes
    st.session_state[f"c_block_{side}"] = spec.block
    st.session_state[f"c_shortcut_{side}"] = spec.shortcut
    st.session_state[f"c_residual_{side}"] = spec.residual
    st.session_state[f"c_stages_{side}"] = stages_to_text(spec.stages)


def edited_spec(side: str) -> ResNetSpec:
    s = st.session_state
    return dataclasses.replace(
        source_spec(s[f"c_src_{side}"]),
        input=input_from_text(s[f"c_input_{side}"]),
        num_classes=int(s[f"c_classes_{side}"]),
        block=s[f"c_block_{side}"],
        shortcut=s[f"c_shortcut_{side}"],
        residual=bool(s[f"c_residual_{side}"]),
        stages=stages_from_text(s[f"c_stages_{side}"]),
    )


def side_panel(side: str, default: str) -> tuple[str, ResNetSpec | None]:
    key = f"c_src_{side}"
    if key not in st.session_state:
        st.session_state[key] = default
    if f"c_stages_{side}" not in st.session_state:
        load_side(side)
    name = st.selectbox(f"Network {side}", [CURRENT, *PRESETS], key=key, on_change=load_side, args=(side,))
    with st.expander("Edit", expanded=False):
        st.text_input("Stages (blocks x channels s stride)", key=f"c_stages_{side}", help="e.g. 2x64s1,2x128s2")
        c1, c2 = st.columns(2)
        c1.text_input("Input C,H,W", key=f"c_input_{side}")
        c2.number_input("Classes", key=f"c_classes_{side}", step=1)
        c1.selectbox("Block", BLOCKS, key=f"c_block_{side}")
        c2.selectbox("Shortcut", SHORTCUTS, key=f"c_shortcut_{side}")
        st.toggle("Residual connections", key=f"c_residual_{side}")
    try:
        spec = edited_spec(side)
        check(spec)
    except SpecError as exc:
        st.error(f"Network {side} is not valid: {plain(exc)}")
        return name, None
    label = name if spec == source_spec(name) else f"{name} (edited)"
    return label, spec


def totals(name_a: str, a: Analysis, name_b: str, b: Analysis) -> None:
    """Both networks' totals, A above B, B's with its ratio to A's (no arrow: a ratio, not a change)."""
    cols = st.columns(4)
    for col, label, va, vb, show in [
        (cols[0], "Parameters", a.total_params, b.total_params, fmt.count),
        (cols[1], "GMACs per image", a.macs, b.macs, lambda v: f"{v / 1e9:.3f}"),
        (cols[2], "Depth (weighted layers)", a.depth, b.depth, str),
        (cols[3], "Activations per image", a.activation_bytes(1), b.activation_bytes(1), fmt.nbytes),
    ]:
        ratio = f"{vb / va:.2f}x" if va else "—"
        col.metric(f"{label}, A", show(va))
        # a ratio, not a change: no arrow (an up arrow on "1.00x" read as growth)
        col.metric(f"{label}, B", show(vb), delta=f"{ratio} of A", delta_color="off", delta_arrow="off")
    st.caption(f"A = {name_a}; B = {name_b}.")


def differing_cells(table: pd.DataFrame, unit: str) -> list[tuple[int, str]]:
    """(row, column) of each A/B pair of cells that differ, and of the stage's name where any does."""
    cells = []
    for i, row in table.iterrows():
        pairs = [what for what in ("output", "params", unit) if row[f"A {what}"] != row[f"B {what}"]]
        cells += [(int(i), "stage")] if pairs else []
        cells += [(int(i), f"{side} {what}") for what in pairs for side in "AB"]
    return cells


def stage_table(a: Analysis, b: Analysis) -> None:
    """Stage by stage, A beside B, in the Design page's MAC unit; stages that differ highlighted."""
    names = list(dict.fromkeys([s.name for s in a.stages] + [s.name for s in b.stages]))
    by_a, by_b = {s.name: s for s in a.stages}, {s.name: s for s in b.stages}
    unit = fmt.macs_unit(max(a.macs, b.macs))
    rows = []
    for n in names:
        sa, sb = by_a.get(n), by_b.get(n)
        rows.append(
            {
                "stage": n,
                "A output": fmt.shape(sa.output_shape) if sa else "—",
                "B output": fmt.shape(sb.output_shape) if sb else "—",
                "A params": sa.params if sa else 0,
                "B params": sb.params if sb else 0,
                # in the Design page's unit: exact MAC counts of ten digits would push the table past
                # a projector's width
                f"A {unit.name}": sa.macs / unit.scale if sa else 0.0,
                f"B {unit.name}": sb.macs / unit.scale if sb else 0.0,
            }
        )
    table = pd.DataFrame(rows)

    marked = differing_cells(table, unit.name)

    def mark_differences(column: pd.Series) -> list[str]:
        return [DIFFERS_CSS if (i, column.name) in marked else "" for i in column.index]

    st.dataframe(
        table.style.apply(mark_differences, axis=0).format(
            {
                "A params": "{:,}",
                "B params": "{:,}",
                **dict.fromkeys((f"A {unit.name}", f"B {unit.name}"), lambda v: unit.format % v),
            }
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption("Highlighted: the stages that differ, and in them what differs (shape, parameters or MACs).")


def diagrams(side_a: tuple[str, str], side_b: tuple[str, str]) -> None:
    """The two diagrams side by side, each (name, spec JSON) filling its column's width."""
    for column, (name, spec_json), key in zip(
        st.columns(2), (side_a, side_b), ("c_diagram_a", "c_diagram_b"), strict=True
    ):
        with column:
            st.caption(name)
            diagram_view.diagram(cache.diagram(spec_json, False), key, name.replace(" ", "_"), "fit")
