"""ResNet Explorer: `streamlit run app.py`. A router over the pages in app_pages/.

The folder is not called `pages/`: Streamlit treats a `pages/` folder beside the main script as
an old-style multipage app, and a server's first visitor arriving at /train would get that
folder's page alone, without this router (no wide layout, a different menu).
"""

import streamlit as st

from ui import follow, training, uploads, why_flow
from ui.access import keep_person, lan_address, lecturer_sidebar, person
from ui.checkpoint import weights_limit_mb
from ui.lecture import lecture_requested, lecture_toggle

st.set_page_config(
    page_title="ResNet Explorer",
    page_icon=":material/account_tree:",
    layout="wide",
    initial_sidebar_state="collapsed" if lecture_requested() else "auto",
)

pages = [
    st.Page("app_pages/design.py", title="Design", icon=":material/account_tree:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page(
        "app_pages/why_residuals.py", title="Why residuals?", icon=":material/lightbulb:", url_path="why-residuals"
    ),
    st.Page("app_pages/challenge.py", title="Challenge", icon=":material/emoji_events:", url_path="challenge"),
]
navigation = st.navigation(pages)
uploads.install_guard(weights_limit_mb())  # sizes checked as files arrive, whatever the browser was told
keep_person()  # a new tab or a reload is the same person (its browser's signed cookie)
uploads.register_person(person(), lan_address())
# the frame every page shares: the lecture switch (the Design page's sidebar is wider: it holds the
# stage table), the lecturer key, following the lecturer
lecture_toggle(wide_sidebar=navigation.url_path == "")
lecturer_sidebar()  # the lecturer key, on every page, where the server has one
follow.follow({page.url_path: page for page in pages}, navigation.url_path)  # ?follow=1: the lecturer's screen
navigation.run()
follow.publish(navigation.url_path)  # the lecturer's design and page, as this run left them
training.warm_up()  # the training worker starts while the first page is read: Train opens at once
why_flow.warm_up()  # and Why residuals? measures its gradient flow at the defaults meanwhile
