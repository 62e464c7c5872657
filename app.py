"""ResNet Explorer: `streamlit run app.py`. A router over the pages in pages/."""

import streamlit as st

from ui.lecture import lecture_requested

st.set_page_config(
    page_title="ResNet Explorer",
    page_icon=":material/account_tree:",
    layout="wide",
    initial_sidebar_state="collapsed" if lecture_requested() else "auto",
)

pages = [
    st.Page("pages/design.py", title="Design", icon=":material/account_tree:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page("pages/why_residuals.py", title="Why residuals?", icon=":material/lightbulb:", url_path="why-residuals"),
]
st.navigation(pages).run()
