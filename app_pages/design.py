"""Design: build a ResNet by hand and see its shapes, counts and diagram at once."""

import streamlit as st

from ui import cache, design_controls, design_views, state
from ui.lecture import lecture_requested

lecture = lecture_requested()  # the router drew the switch
state.current_spec()
if (unbuildable := st.session_state.pop("url_network", None)) is not None:
    # the link's network in the controls, where the tutor below explains it; the totals show the preset
    st.session_state.pop("url_problem", None)
    state.load_into_widgets(unbuildable, state.current_base(), as_design=False)
state.url_warning()
state.ensure_widgets()
edited = design_controls.sidebar(lecture)

base = st.session_state.base
design_controls.network_from_controls(edited, base)
spec = st.session_state.spec
spec_json = spec.to_json(indent=None)
a = cache.analysis(spec_json)
diff = design_views.edits(spec, base)
with st.container(key="d_head"):
    if lecture:
        st.markdown(design_views.LECTURE_TOTALS_CSS, unsafe_allow_html=True)
    st.title("ResNet Explorer")
    design_views.totals(a)
if not lecture:
    design_views.notes(a, base, diff)

view = st.radio("View", design_views.VIEWS, horizontal=True, key="d_view", label_visibility="collapsed")
if view == "Diagram":
    design_views.diagram(spec_json, a, lecture, base if not diff else f"{base}-edited")
elif view == "Layers":
    design_views.layers(spec_json)
elif view == "Charts":
    design_views.charts_view(base, a)
elif view == "PyTorch code":
    design_views.code(spec_json, base if not diff else f"{base} (edited)")
else:
    design_views.import_export(spec, a, spec_json)
if lecture:  # below the view: the first screen holds the totals and the diagram
    design_views.notes(a, base, diff)
