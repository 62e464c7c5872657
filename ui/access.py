"""Who this browser session is to the server: the person behind it, the keys of the runs it
started, and whether it is the lecturer.

A person is a random id the server signs (explorer/hall/identity.py), kept in a cookie: a new tab
or a reload sends it with its connection and is the same person; a session whose browser sent none
(or a forged one) gets a new id, and a tiny in-page script stores it as the cookie. The quotas count
per person and, on a LAN, per client address too (a student who clears the cookie or opens another
browser is a new person, but not a new address).

A run belongs to the person who submitted it: any of their tabs may stop or delete it. Its key is
given once, when the run is submitted; the session keeps it, and the reattach link carries it
(`?job=N&key=...`) to another browser. Without either a run is shown read-only. The lecturer key, set when the
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
import logging
import math
import secrets

import streamlit as st
import torch

from explorer.hall import identity as signed
from explorer.hall.budget import Limits
from explorer.hall.budget import limits as budget_limits
from explorer.hall.key_tries import MAX_WRONG, KeyTries, StoredKeyTries
from explorer.hall.settings import Settings, load_settings
from explorer.store import StoreError, open_engine
from explorer.training.jobs import Submitter

_log = logging.getLogger(__name__)

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
def key_tries() -> KeyTries | StoredKeyTries:
    """Wrong lecturer keys per client, for the whole server (locked inside); with replicas, for all of them."""
    if settings().replicated:
        try:
            return StoredKeyTries(open_engine(settings().store_url))
        except StoreError as exc:  # the Train page says why; the count is this process's meanwhile
            _log.warning("wrong lecturer keys are counted per replica: %s", exc)
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


def lan_address() -> str | None:
    """The client's address where it tells computers apart (a LAN): None on the server's own
    machine and behind an untrusted proxy, whose clients all look alike."""
    address = client_address()
    return None if address == BEHIND_PROXY else address


def is_lecturer() -> bool:
    if settings().lecturer_key is None:
        return client_address() is None
    return bool(st.session_state.get("lecturer_ok"))


@st.cache_resource
def _signer() -> tuple[signed.Identity, str | None]:
    try:
        return signed.Identity(signed.secret(settings().person_secret)), None
    except (OSError, ValueError) as exc:  # the app keeps working: people last until the server restarts
        return signed.Identity(secrets.token_bytes(32)), f"Person cookies are signed with a passing secret: {exc}"


def identity() -> signed.Identity:
    """The server's signer of person cookies (its secret read or made once)."""
    return _signer()[0]


def sent_cookie() -> str | None:
    """The person cookie this session's browser sent with its connection, if any."""
    cookies = st.context.cookies
    value = cookies.get(signed.COOKIE) if hasattr(cookies, "get") else None  # AppTest's stand-in has none
    return value if isinstance(value, str) else None


def owner() -> str:
    """This person's id, in all the tabs of their browser: what the quotas count per person, and
    whose runs a page lists as yours. Decided once per session (its reruns stay one person)."""
    if "person" not in st.session_state:
        known = identity().verify(sent_cookie())
        if known is None:  # no cookie, or not one this server signed: a new person, quietly
            known, st.session_state.person_cookie = identity().mint()
        st.session_state.person = known
    return st.session_state.person


def person() -> str:
    """Who this is to the challenge and the upload totals: the same person as the quotas'."""
    return f"person {owner()}"


def submitter() -> Submitter:
    return Submitter(owner(), is_lecturer(), client_address())


def remember_key(run_id: int, key: str) -> None:
    st.session_state.setdefault("run_keys", {})[run_id] = key


def key_of(run_id: int) -> str | None:
    return st.session_state.get("run_keys", {}).get(run_id)


def control(run_id: int) -> tuple[str | None, bool, str]:
    """What this session holds over a run, as the registry's stop, delete and may_control take it:
    the run's key if this session was given it, whether it is the lecturer, and the person (whose
    runs are theirs in every tab)."""
    return key_of(run_id), is_lecturer(), owner()


def _key_client() -> str:
    """Whom wrong keys are counted against: the client's address, or the person on the loopback."""
    return client_address() or person()


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


# Stores the person's cookie from the page itself (st.components.v2: the script runs in the page,
# not in an iframe, so document.cookie is the app's). Set from JavaScript it cannot be HttpOnly:
# a script in the page could read it, but the app runs no one else's scripts; it is Secure where the
# page came over HTTPS (plain HTTP shows it to anyone on the LAN: docs/lecture-hall.md).
_SET_COOKIE_JS = """
export default function ({ data }) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${data.name}=${data.value}; path=/; max-age=${data.max_age}; SameSite=Lax${secure}`;
}
"""
_cookie_setter = st.components.v2.component(
    "person_cookie", js=_SET_COOKIE_JS, css=".st-key-rx_person_cookie { display: none; }", isolate_styles=False
)


def keep_person() -> None:
    """Where this session was given a new person, have its browser keep them for its next tabs."""
    owner()
    if (problem := _signer()[1]) is not None and is_lecturer():
        st.sidebar.warning(problem)
    value = st.session_state.get("person_cookie")
    if value is not None:
        data = {"name": signed.COOKIE, "value": value, "max_age": signed.MAX_AGE_SECONDS}
        _cookie_setter(data=data, key="rx_person_cookie", height="content")
