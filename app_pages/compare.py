"""Compare: two networks side by side — totals, stages, charts and diagrams, differences marked."""

import dataclasses

import pandas as pd
import streamlit as st

from explorer import PRESETS, ResNetSpec, SpecError, check, fmt
from explorer.arch.share import stages_from_text, stages_to_text
from explorer.arch.spec import BLOCKS, SHORTCUTS, input_from_text
from explorer.hall.budget import check_design
from ui import access, cache, charts, state

CURRENT = "Current design"
design = state.current_spec()
st.title("Compare two networks")
state.url_warning()


def source_spec(name: str) -> ResNetSpec:
    return design if name == CURRENT else PRESETS[name]


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
        st.error(f"Network {side} is not valid: {exc}")
        return name, None
    label = name if spec == source_spec(name) else f"{name} (edited)"
    return label, spec


left, right = st.columns(2)
with left:
    name_a, spec_a = side_panel("A", CURRENT)
with right:
    name_b, spec_b = side_panel("B", "resnet18" if design != PRESETS["resnet18"] else "resnet34")
if spec_a is None or spec_b is None:
    st.stop()
if name_a == name_b:
    name_a, name_b = f"A: {name_a}", f"B: {name_b}"
a = cache.analysis(spec_a.to_json(indent=None))
b = cache.analysis(spec_b.to_json(indent=None))
for label, analysis in ((name_a, a), (name_b, b)):
    try:
        check_design(analysis.plan, access.limits())
    except SpecError as exc:
        st.warning(f"**{label}** is too large to build or train on this server (compared by arithmetic): {exc}")

# ----- totals --------------------------------------------------------------------------------------
st.subheader("Totals")
cols = st.columns(4)
for col, label, va, vb, show in [
    (cols[0], "Parameters", a.total_params, b.total_params, fmt.count),
    (cols[1], "GMACs per image", a.macs, b.macs, lambda v: f"{v / 1e9:.3f}"),
    (cols[2], "Depth (weighted layers)", a.depth, b.depth, str),
    (cols[3], "Activations per image", a.activation_bytes(1), b.activation_bytes(1), fmt.nbytes),
]:
    ratio = f"{vb / va:.2f}x" if va else "—"
    # a ratio, not a change: no arrow (an up arrow on "1.00x" read as growth)
    col.metric(label, show(vb), delta=f"{ratio} of A ({show(va)})", delta_color="off", delta_arrow="off")
st.caption(f"Values are B = {name_b}; the small line compares with A = {name_a}.")

# ----- stages --------------------------------------------------------------------------------------
st.subheader("Stage by stage")
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


def mark_differences(row: pd.Series) -> list[str]:
    differs = any(row[f"A {what}"] != row[f"B {what}"] for what in ("output", "params", unit.name))
    return ["background-color: #fff3bf" if differs else ""] * len(row)


st.dataframe(
    table.style.apply(mark_differences, axis=1).format(
        {
            "A params": "{:,}",
            "B params": "{:,}",
            **dict.fromkeys((f"A {unit.name}", f"B {unit.name}"), lambda v: unit.format % v),
        }
    ),
    hide_index=True,
    width="stretch",
)
st.caption("Highlighted: stages whose shape, parameters or MACs differ.")
st.plotly_chart(charts.stage_bars([(name_a, a), (name_b, b)]), width="stretch", key="c_bars")

# ----- diagrams ------------------------------------------------------------------------------------
st.subheader("Diagrams")
left, right = st.columns(2)
left.caption(name_a)
left.graphviz_chart(cache.diagram(spec_a.to_json(indent=None), False), width="stretch")
right.caption(name_b)
right.graphviz_chart(cache.diagram(spec_b.to_json(indent=None), False), width="stretch")
