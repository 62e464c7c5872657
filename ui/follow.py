"""Follow the lecturer: the lecturer's session publishes its design and page after every run of a
page; a student's session opened with ?follow=1 takes each new one (design into the controls, the
same page) within a second, until the student makes it their own copy."""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer.hall.broadcast import Broadcast, LectureTable
from explorer.store import StoreError, open_engine
from ui import access, state

# The lecturer's change wakes each follower's session at once (_waker); the poll is the fallback
# should Streamlit's internals it uses change: a follower then sees a change within this.
POLL_SECONDS = 1.0
_log = logging.getLogger(__name__)


@st.cache_resource(on_release=Broadcast.close)
def broadcast() -> Broadcast:
    """One per server process, shared by every session (it locks its own state); with replicas, through
    the store they share, so that a follower on any of them sees the lecturer on any other."""
    settings = access.settings()
    if not settings.replicated:
        return Broadcast()
    try:
        return Broadcast(LectureTable(open_engine(settings.store_url)))
    except StoreError as exc:  # Train says so too; following works within this process meanwhile
        _log.warning("following the lecturer across replicas is off: %s", exc)
        return Broadcast()


def following() -> bool:
    """Whether this session follows the lecturer: ?follow=1 at its first page, until it forks."""
    if "following" not in st.session_state:
        st.session_state.following = st.query_params.get("follow") == "1"
    return bool(st.session_state.following)


def _fork() -> None:
    st.session_state.following = False
    st.query_params.pop("follow", None)
    ctx = get_script_run_ctx()
    if ctx is not None:
        broadcast().unsubscribe(ctx.session_id)
    st.session_state.follow_woken = False


def publish(page: str) -> None:
    """After the lecturer's page has run: its design as the run left it, and the page. A following
    session never publishes (on a one-user server everyone counts as the lecturer)."""
    if access.is_lecturer() and not following():
        broadcast().publish(state.current_spec(), state.current_base(), page, st.session_state.get("t_job"))


@st.fragment(run_every=POLL_SECONDS)
def _watch(seen: int) -> None:
    latest = broadcast().latest()
    if latest is not None and latest.version != seen:
        st.rerun()  # the whole app: the controls take the new design before they are drawn


def _waker(session_id: str) -> Callable[[], bool]:
    """A call that reruns the follower's session as its browser last left it (the page, the widgets),
    as Streamlit's own run-on-save does; on the server's event loop, from the lecturer's thread.
    Streamlit has no public call for this: AppSession.request_rerun with its saved client state."""

    def wake() -> bool:
        try:
            info = Runtime.instance()._session_mgr.get_active_session_info(session_id)
            if info is None:
                return False  # the tab is closed: drop the call
            session = info.session
            session._event_loop.call_soon_threadsafe(session.request_rerun, session._client_state)
        except Exception:  # internals moved: the poll still brings the change
            _log.warning("could not wake a follower; it will see the change at its next poll", exc_info=True)
            return False
        return True

    return wake


def _subscribe() -> None:
    ctx = get_script_run_ctx()
    if ctx is not None and Runtime.exists() and not st.session_state.get("follow_woken"):
        broadcast().subscribe(ctx.session_id, _waker(ctx.session_id))
        st.session_state.follow_woken = True


def follow(pages: dict[str, st.Page], page: str) -> None:
    """For a following session, before the page runs: take the lecturer's latest design and go to
    their page; keep watching for the next change. Nothing for any other session."""
    if not following():
        return
    _subscribe()
    if st.query_params.get("follow") != "1":  # also after the student's own click in the menu: a reload follows on
        st.query_params["follow"] = "1"
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
        if latest.run is not None:  # the lecturer's run on the Train page, watched read-only (no key)
            st.session_state.t_job = latest.run
        if latest.page != page and latest.page in pages:
            st.switch_page(pages[latest.page], query_params={"follow": "1"})
    _watch(latest.version if latest else 0)
