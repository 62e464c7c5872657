"""Lecture mode: large type and collapsed controls for a projector, on every page (?lecture=1)."""

from __future__ import annotations

import streamlit as st

# A wider sidebar, so the stage table's four columns and the switches' labels fit.
BASE_CSS = """
<style>
  section[data-testid="stSidebar"] { min-width: 380px; }
  .block-container { padding-top: 2.5rem; }
</style>
"""

LECTURE_CSS = """
<style>
  html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
  [data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.25rem; }
  [data-testid="stMetricValue"] { font-size: 3.2rem !important; }
  [data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
  h1 { font-size: 3rem !important; } h2 { font-size: 2.3rem !important; } h3 { font-size: 1.8rem !important; }
  .block-container { padding-top: 1.5rem; max-width: 1400px; }
</style>
"""


def lecture_requested() -> bool:
    """Lecture mode is on if the session says so, or, at a session's first page, ?lecture=1."""
    if "lecture" not in st.session_state:
        st.session_state.lecture = st.query_params.get("lecture") == "1"
    return bool(st.session_state.lecture)


def lecture_toggle() -> bool:
    """The sidebar switch; keeps ?lecture=1 in the URL while it is on. Returns the mode."""
    lecture_requested()
    st.markdown(BASE_CSS, unsafe_allow_html=True)
    on = st.sidebar.toggle("Lecture mode", key="lecture", help="Large type, one idea per screen, controls folded away")
    if on:
        st.query_params["lecture"] = "1"
        st.markdown(LECTURE_CSS, unsafe_allow_html=True)
    elif "lecture" in st.query_params:
        del st.query_params["lecture"]
    return on
