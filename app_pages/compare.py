"""Compare: two networks side by side — totals, stages, charts and diagrams, differences marked."""

import streamlit as st

from explorer import PRESETS, SpecError
from explorer.hall.budget import check_design
from ui import access, cache, chart_text, charts, compare_sides, state
from ui.text import plain

design = state.current_spec()
st.title("Compare two networks")
state.url_warning()
left, right = st.columns(2)
with left:
    name_a, spec_a = compare_sides.side_panel("A", compare_sides.CURRENT)
with right:
    name_b, spec_b = compare_sides.side_panel("B", "resnet18" if design != PRESETS["resnet18"] else "resnet34")
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
        st.warning(f"**{label}** is too large to build or train on this server (compared by arithmetic): {plain(exc)}")

st.subheader("Totals")
compare_sides.totals(name_a, a, name_b, b)
st.subheader("Stage by stage")
compare_sides.stage_table(a, b)
chart_text.plot(st, charts.stage_bars([(name_a, a), (name_b, b)]), "c_bars")

st.subheader("Diagrams")
compare_sides.diagrams((name_a, spec_a.to_json(indent=None)), (name_b, spec_b.to_json(indent=None)))
