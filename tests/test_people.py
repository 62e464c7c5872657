"""Who is the lecturer, and who is guessing (issue 22): the CLIENT's address decides without a key,
never the server's bind address; a proxy's clients are not loopback unless the proxy is trusted;
wrong keys are limited per client."""

import pytest
import streamlit as st

from explorer.hall.identity import COOKIE
from explorer.hall.key_tries import MAX_WRONG, WINDOW_SECONDS, KeyTries

from .apptest import open_app


def test_five_wrong_keys_a_minute_then_a_wait():
    now = [1000.0]
    tries = KeyTries(clock=lambda: now[0])
    for _ in range(MAX_WRONG):
        assert tries.wait("10.0.0.7") == 0.0
        tries.record_wrong("10.0.0.7")
        now[0] += 1.0
    assert tries.wait("10.0.0.7") == WINDOW_SECONDS - MAX_WRONG  # until the first is a minute old
    assert tries.wait("10.0.0.8") == 0.0  # another client is not held up
    now[0] += WINDOW_SECONDS - MAX_WRONG
    assert tries.wait("10.0.0.7") == 0.0


@pytest.fixture
def client(monkeypatch):
    """Make the AppTest sessions' client come from an address, with these request headers."""

    def use(address: str | None, headers: dict | None = None, cookies: dict | None = None) -> None:
        context = type(st.context)
        monkeypatch.setattr(context, "ip_address", property(lambda self: address))
        monkeypatch.setattr(context, "headers", property(lambda self: headers or {}))
        monkeypatch.setattr(context, "cookies", property(lambda self: cookies or {}))

    return use


def _is_lecturer(at) -> bool:
    return any(e.label.startswith("Lecturer") for e in at.expander)


@pytest.mark.parametrize(
    ("address", "headers", "trusted", "lecturer"),
    [
        (None, {}, "0", True),  # the server's own machine
        ("10.0.0.7", {}, "0", False),  # a student on the LAN, whatever address the server listens on
        (None, {"X-Forwarded-For": "10.0.0.7"}, "0", False),  # a proxy's client: not loopback
        (None, {"X-Forwarded-For": "10.0.0.7"}, "1", False),  # a trusted proxy's client is its address
        (None, {"X-Forwarded-For": "10.0.0.7, 127.0.0.1"}, "1", True),  # the proxy appended loopback
    ],
    ids=["loopback", "lan", "untrusted-proxy", "trusted-proxy", "trusted-proxy-local"],
)
def test_without_a_key_the_clients_address_decides(fresh, client, monkeypatch, address, headers, trusted, lecturer):
    monkeypatch.setenv("RESNET_EXPLORER_TRUSTED_PROXY", trusted)
    client(address, headers)
    at = open_app({"lecture": "0"}, "app_pages/challenge.py")
    at.run()
    assert not at.exception and _is_lecturer(at) is lecturer


def test_wrong_keys_are_limited_per_client(fresh, client, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_LECTURER_KEY", "chalk")
    client("10.0.0.7")
    guesser = open_app(page="app_pages/challenge.py")
    for guess in range(MAX_WRONG):
        guesser.text_input(key="lecturer_key_typed").set_value(f"guess{guess}").run()
    assert [c.value for c in guesser.sidebar.caption][-1].startswith(
        f":red[{MAX_WRONG} wrong keys within a minute from this computer: wait "
    )
    guesser.text_input(key="lecturer_key_typed").set_value("chalk").run()  # even the right key waits
    assert not _is_lecturer(guesser)
    tab = open_app(page="app_pages/challenge.py")  # a new tab of the same computer waits too
    tab.text_input(key="lecturer_key_typed").set_value("chalk").run()
    assert not _is_lecturer(tab)
    client("10.0.0.8")
    lecturer = open_app(page="app_pages/challenge.py")
    lecturer.text_input(key="lecturer_key_typed").set_value("chalk").run()
    assert _is_lecturer(lecturer)


def test_a_new_tab_with_the_cookie_is_the_same_person(fresh, client):
    """Issue 22: every new tab was a new person (on the loopback, or behind NAT)."""
    client(None)
    first = open_app(page="app_pages/challenge.py")
    person, cookie = first.session_state["person"], first.session_state["person_cookie"]
    assert cookie.startswith(person + ".") and _cookie_setters(first) == 1  # the browser is told to keep it
    first.run()
    assert first.session_state["person"] == person  # its reruns stay one person
    client(None, cookies={COOKIE: cookie})
    tab = open_app(page="app_pages/challenge.py")
    assert tab.session_state["person"] == person and "person_cookie" not in tab.session_state
    assert _cookie_setters(tab) == 0
    forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    client(None, cookies={COOKIE: forged})
    stranger = open_app(page="app_pages/challenge.py")
    assert not stranger.exception and stranger.session_state["person"] != person  # a new person, quietly


def _cookie_setters(at) -> int:
    return sum(element.proto.component_name.endswith("person_cookie") for element in at.get("bidi_component"))
