"""Who this browser session is to the server: its owner id, the keys of the runs it started, and
whether it is the lecturer.

A run's key is given once, when the run is submitted; the session keeps it, and the reattach link
carries it (`?job=N&key=...`). Without it a run is shown read-only. The lecturer key, set when the
server starts (settings.toml or RESNET_EXPLORER_LECTURER_KEY), is typed once in the sidebar; wrong
keys are limited per client (explorer/hall/key_tries.py). Without a key, the lecturer is whoever
uses the server's own machine: decided by the CLIENT's address (loopback), never by the address the
server listens on (`--server.address ""` listens on every interface: everyone was the lecturer).
Behind a reverse proxy on this machine every client looks loopback: a request that carries
X-Forwarded-For is then a client of the proxy, whose address is read from that header only where
the settings say the proxy is trusted.
"""

from __future__ import annotations

import hmac
import math
import secrets

import streamlit as st
import torch

from explorer.hall.budget import Limits
from explorer.hall.budget import limits as budget_limits
from explorer.hall.key_tries import MAX_WRONG, KeyTries
from explorer.hall.settings import Settings, load_settings
from explorer.training.jobs import Submitter

LOOPBACK = ("127.0.0.1", "::1", "localhost")
BEHIND_PROXY = "a client of the proxy"  # an untrusted proxy's client: someone, never the loopback


@st.cache_resource
def settings() -> Settings:
    """The server's settings, read once (a frozen dataclass: safe to share between sessions)."""
    return load_settings()


@st.cache_resource
def limits() -> Limits:
    """The budgets for building and (on this machine's CPU or GPU) training, resolved once."""
    return budget_limits(settings(), "cuda" if torch.cuda.is_available() else "cpu")


@st.cache_resource
def key_tries() -> KeyTries:
    """Wrong lecturer keys per client, for the whole server (locked inside)."""
    return KeyTries()


def client_address() -> str | None:
    """The client's address, None for the server's own machine (Streamlit reports a loopback
    connection as None); behind a proxy on this machine, the proxy's client (see the module)."""
    address = st.context.ip_address
    if not isinstance(address, str):  # no client at all (AppTest hands a stand-in): the server's own
        address = None
    forwarded = st.context.headers.get("X-Forwarded-For")
    if address is None and forwarded:
        if not settings().trusted_proxy:
            return BEHIND_PROXY
        address = forwarded.split(",")[-1].strip()  # what the proxy itself appended
    return None if address is None or address in LOOPBACK else address


def is_lecturer() -> bool:
    if settings().lecturer_key is None:
        return client_address() is None
    return bool(st.session_state.get("lecturer_ok"))


def owner() -> str:
    """This browser session's id: what the quotas count per session."""
    if "owner" not in st.session_state:
        st.session_state.owner = secrets.token_hex(8)
    return st.session_state.owner


def person() -> str:
    """Who this is across tabs: the client's address on a LAN; this session on the server's own
    machine or behind an untrusted proxy, where addresses tell no one apart."""
    address = client_address()
    return address if address not in (None, BEHIND_PROXY) else f"session {owner()}"


def submitter() -> Submitter:
    return Submitter(owner(), is_lecturer(), client_address())


def remember_key(run_id: int, key: str) -> None:
    st.session_state.setdefault("run_keys", {})[run_id] = key


def key_of(run_id: int) -> str | None:
    return st.session_state.get("run_keys", {}).get(run_id)


def _key_client() -> str:
    """Whom wrong keys are counted against: the client's address, or this session on the loopback."""
    return client_address() or f"session {owner()}"


def _check_lecturer_key() -> None:
    typed = st.session_state.get("lecturer_key_typed") or ""
    st.session_state.lecturer_key_typed = ""  # not kept in the widget, nor shown again
    st.session_state.lecturer_key_wrong = False
    if not typed:
        return
    if key_tries().wait(_key_client()) > 0:  # not even compared: a guesser learns nothing
        return
    expected = settings().lecturer_key or ""
    st.session_state.lecturer_ok = bool(expected) and hmac.compare_digest(typed.encode(), expected.encode())
    if not st.session_state.lecturer_ok:
        key_tries().record_wrong(_key_client())
        st.session_state.lecturer_key_wrong = True


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
        if (wait := key_tries().wait(_key_client())) > 0:
            st.caption(f":red[{MAX_WRONG} wrong keys within a minute from this computer: wait {math.ceil(wait)} s.]")
        elif st.session_state.get("lecturer_key_wrong"):
            st.caption(":red[That is not the lecturer key.]")
