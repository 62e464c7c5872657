"""Follow the lecturer: the lecturer's session publishes its design and page after every run of a
page; a student's session opened with ?follow=1 takes each new one (design into the controls, the
same page) within a second, until the student makes it their own copy."""

from __future__ import annotations

import streamlit as st

from explorer.hall.broadcast import Broadcast
from ui import access, state

POLL_SECONDS = 1.0  # a follower checks for a change this often (a fragment: a few microseconds each)


@st.cache_resource
def broadcast() -> Broadcast:
    """One per server process, shared by every session (it locks its own state)."""
    return Broadcast()


def following() -> bool:
    """Whether this session follows the lecturer: ?follow=1 at its first page, until it forks."""
    if "following" not in st.session_state:
        st.session_state.following = st.query_params.get("follow") == "1"
    return bool(st.session_state.following)


def _fork() -> None:
    st.session_state.following = False
    st.query_params.pop("follow", None)


def publish(page: str) -> None:
    """After the lecturer's page has run: its design as the run left it, and the page. A following
    session never publishes (on a one-user server everyone counts as the lecturer)."""
    if access.is_lecturer() and not following():
        broadcast().publish(state.current_spec(), state.current_base(), page)


@st.fragment(run_every=POLL_SECONDS)
def _watch(seen: int) -> None:
    latest = broadcast().latest()
    if latest is not None and latest.version != seen:
        st.rerun()  # the whole app: the controls take the new design before they are drawn


def follow(pages: dict[str, st.Page], page: str) -> None:
    """For a following session, before the page runs: take the lecturer's latest design and go to
    their page; keep watching for the next change. Nothing for any other session."""
    if not following():
        return
    latest = broadcast().latest()
    with st.sidebar:
        st.info("Following the lecturer: their design and page appear here as they change.")
        st.button("Make it my own copy", key="follow_fork", on_click=_fork, icon=":material/fork_right:",
                  help="Stop following; keep this design to edit and train as your own")  # fmt: skip
    if latest is None:
        st.sidebar.caption("The lecturer has not opened the app yet.")
    elif latest.version != st.session_state.get("follow_version"):
        st.session_state.follow_version = latest.version
        state.load_into_widgets(latest.spec, latest.base)
        if latest.page != page and latest.page in pages:
            st.switch_page(pages[latest.page], query_params={"follow": "1"})
    _watch(latest.version if latest else 0)
