"""Lecture mode: large type and collapsed controls for a projector, on every page (?lecture=1)."""

from __future__ import annotations

import re

import streamlit as st

# The Design page's sidebar holds the stage table: wider, so its four columns fit. The other pages'
# sidebars hold only the menu and keep Streamlit's width, which leaves their tables the room.
WIDE_SIDEBAR_CSS = """
<style>
  @media (min-width: 1100px) {
    section[data-testid="stSidebar"]:not([data-collapsed="true"]) { min-width: 410px; }
  }
  /* on narrow screens (a 1024-px projector at 150% zoom) the sidebar lies over the page anyway:
     wide enough for the stage table's four columns */
  @media (max-width: 1099px) {
    section[data-testid="stSidebar"]:not([data-collapsed="true"]) { min-width: min(410px, 94vw); }
  }
</style>
"""


def _rows_of(css: str) -> str:
    """Expand ROW_OF(testid, ...): a row of columns holding such an element as one of its own, not a
    row that only holds one deeper down (the diagram beside its look-inside panel holds a switch, and
    a rule for rows of switches must not stop those two columns from stacking)."""

    def row(match: re.Match) -> str:
        own = '> [data-testid="stColumn"] > [data-testid="stVerticalBlock"] > [data-testid="stElementContainer"] > '
        kinds = ", ".join(f'{own}[data-testid="{kind.strip()}"]' for kind in match.group(1).split(","))
        return f'[data-testid="stHorizontalBlock"]:has({kinds})'

    return re.sub(r"ROW_OF\(([^)]*)\)", row, css)


# Rows of metrics wrap instead of cutting numbers off on narrow screens (a projector at 150% zoom
# is ~680 px wide).
BASE_CSS = _rows_of("""
<style>
  /* the page's <style> blocks take no room: each was an empty row with a 1rem gap (66 px in lecture
     mode at the top of every page) */
  [data-testid="stElementContainer"]:has(> [data-testid="stMarkdown"] style) { display: none; }
  .block-container { padding-top: 2.5rem; }
  [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) { flex-wrap: wrap; row-gap: 0.5rem; }
  [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) > div { min-width: 150px; }
  /* "11,689,512" is 165 px at Streamlit's 36-px type: on a narrow page four in a row cut it (as
     specific as lecture mode's 280 px below, which comes later and so wins) */
  @media (max-width: 800px) {
    [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) > div { min-width: 190px; } }
  /* a row with switches (the diagram's "Draw every block", "Left to right", "Show") wraps rather
     than cutting a label to "Draw eve…" beside the wide sidebar on a 1024-px screen */
  [data-testid="stMain"] ROW_OF(stCheckbox) { flex-wrap: wrap; }
  [data-testid="stMain"] ROW_OF(stCheckbox) > div { min-width: 190px; }
  /* a metric's label wraps rather than being cut: "max |block(x) − x|" is the point of the label */
  [data-testid="stMetricLabel"] p { white-space: normal !important; }
  /* a narrow page (a 1024-px projector at 150% zoom is 683 px): the diagram and the stage table
     beside it stack, each the page's full width, so the diagram keeps its size */
  @media (max-width: 800px) {
    [data-testid="stHorizontalBlock"]:has(.rx-diagram) { flex-wrap: wrap; }
    [data-testid="stHorizontalBlock"]:has(.rx-diagram) > [data-testid="stColumn"] { min-width: 100%; }
  }
  /* beside a long diagram the part's panel stays on screen while the page scrolls to the block
     clicked (issue 23: after a click on layer4.0 the whole panel was above the view) */
  @media (min-width: 801px) {
    [data-testid="stColumn"]:has(.st-key-d_look_panel) { position: sticky; top: 3.75rem; align-self: flex-start; }
  }
  .st-key-d_look_panel { scroll-margin-top: 4rem; }
  /* the code's colours at WCAG 2.1 AA (4.5:1 on its #fcfcfb): Streamlit's were 2.1:1 (booleans) to
     3.9:1 (keywords); these are 5.6:1 or more */
  [data-testid="stCode"] .token.string, [data-testid="stCode"] .token.boolean { color: #177233 !important; }
  [data-testid="stCode"] :is(.token.keyword, .token.function, .token.class-name) { color: #0b5cad !important; }
  [data-testid="stCode"] :is(.token.punctuation, .token.comment) { color: #5c5f6e !important; }
  [data-testid="stCode"] .token.operator { color: #b3400a !important; }
  [data-testid="stCode"] .token.number { color: #0b6e60 !important; }
  /* tabs wrap onto a second row rather than hiding behind a scroll arrow (Why residuals? at 150%) */
  [data-testid="stTabs"] [role="tablist"] { flex-wrap: wrap; row-gap: 0.25rem; }
</style>
""")

LECTURE_CSS = _rows_of("""
<style>
  html, body, [data-testid="stAppViewContainer"] { font-size: 22px; }
  [data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.25rem; }
  [data-testid="stMetricValue"], [data-testid="stMetricValue"] * { font-size: 2.8rem !important; line-height: 1.2; }
  [data-testid="stMetricLabel"] * { font-size: 1.2rem !important; }
  /* at this size a value like "98.61%" or "68,652" needs ~230 px: two metrics a row on a 1024-px
     projector rather than four cut off with an ellipsis */
  [data-testid="stHorizontalBlock"]:has([data-testid="stMetric"]) > div { min-width: 280px; }
  /* the same for rows of inputs: the Train form's four boxes become two rows of two at 683 px
     (1024 at 150%), where they read "Optimize r" and "constan" */
  ROW_OF(stNumberInput, stSelectbox) { flex-wrap: wrap; row-gap: 0.5rem; }
  ROW_OF(stNumberInput, stSelectbox) > div { min-width: 240px; }
  /* what is typed or chosen, near the labels' size: Streamlit draws it at 0.875rem */
  [data-testid="stNumberInputField"], [data-testid="stSelectbox"] input, [data-testid="stTextInput"] input {
    font-size: 1.1rem !important; }
  h1 { font-size: 3rem !important; } h2 { font-size: 2.3rem !important; } h3 { font-size: 1.8rem !important; }
  .block-container { padding-top: 1.5rem; max-width: 1400px; }
</style>
""")


def lecture_requested() -> bool:
    """Lecture mode is on if the session says so, or, at a session's first page, ?lecture=1."""
    if "lecture" not in st.session_state:
        st.session_state.lecture = st.query_params.get("lecture") == "1"
    return bool(st.session_state.lecture)


def lecture_toggle(wide_sidebar: bool = False) -> bool:
    """The sidebar switch; keeps ?lecture=1 in the URL while it is on. Returns the mode.

    `wide_sidebar` is for a page whose sidebar holds a table (the Design page's stages).
    """
    lecture_requested()
    st.markdown(BASE_CSS + (WIDE_SIDEBAR_CSS if wide_sidebar else ""), unsafe_allow_html=True)
    on = st.sidebar.toggle("Lecture mode", key="lecture", help="Large type, one idea per screen, controls folded away")
    if on:
        st.query_params["lecture"] = "1"
        st.markdown(LECTURE_CSS, unsafe_allow_html=True)
    elif "lecture" in st.query_params:
        del st.query_params["lecture"]
    return on
