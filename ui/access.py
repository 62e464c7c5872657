"""Who this browser session is to the server: its owner id, the keys of the runs it started, and
whether it is the lecturer.

A run's key is given once, when the run is submitted; the session keeps it, and the reattach link
carries it (`?job=N&key=...`). Without it a run is shown read-only. The lecturer key, set when the
server starts (settings.toml or RESNET_EXPLORER_LECTURER_KEY), is typed once in the sidebar. A
server on 127.0.0.1 without a lecturer key has one user, who is the lecturer.
"""

from __future__ import annotations

import hmac
import secrets

import streamlit as st
import torch

from explorer.hall.budget import Limits
from explorer.hall.budget import limits as budget_limits
from explorer.hall.settings import Settings, load_settings
from explorer.training.jobs import Submitter

LOOPBACK = ("", "127.0.0.1", "localhost", "::1")


@st.cache_resource
def settings() -> Settings:
    """The server's settings, read once (a frozen dataclass: safe to share between sessions)."""
    return load_settings()


@st.cache_resource
def limits() -> Limits:
    """The budgets for building and (on this machine's CPU or GPU) training, resolved once."""
    return budget_limits(settings(), "cuda" if torch.cuda.is_available() else "cpu")


def local_server() -> bool:
    """Served on the loopback address only: the machine's own user is the one user."""
    address = st.get_option("server.address")
    return (address or "") in LOOPBACK


def is_lecturer() -> bool:
    if settings().lecturer_key is None:
        return local_server()
    return bool(st.session_state.get("lecturer_ok"))


def owner() -> str:
    """This browser session's id: what the quotas count per session."""
    if "owner" not in st.session_state:
        st.session_state.owner = secrets.token_hex(8)
    return st.session_state.owner


def submitter() -> Submitter:
    return Submitter(owner(), is_lecturer())


def remember_key(run_id: int, key: str) -> None:
    st.session_state.setdefault("run_keys", {})[run_id] = key


def key_of(run_id: int) -> str | None:
    return st.session_state.get("run_keys", {}).get(run_id)


def _check_lecturer_key() -> None:
    typed = st.session_state.get("lecturer_key_typed") or ""
    expected = settings().lecturer_key or ""
    st.session_state.lecturer_ok = bool(expected) and hmac.compare_digest(typed.encode(), expected.encode())
    st.session_state.lecturer_key_wrong = bool(typed) and not st.session_state.lecturer_ok
    st.session_state.lecturer_key_typed = ""  # not kept in the widget, nor shown again


def lecturer_sidebar() -> None:
    """The lecturer key box (only where one is set), or who this session is."""
    if settings().lecturer_key is None:
        return
    with st.sidebar:
        if st.session_state.get("lecturer_ok"):
            st.caption("Lecturer: you may stop and delete any run, and the quotas do not apply to you.")
            return
        st.text_input(
            "Lecturer key",
            type="password",
            key="lecturer_key_typed",
            on_change=_check_lecturer_key,
            help="Given to the lecturer when the server starts. Students do not need it.",
        )
        if st.session_state.get("lecturer_key_wrong"):
            st.caption(":red[That is not the lecturer key.]")
