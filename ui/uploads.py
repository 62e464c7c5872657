"""Uploads checked on the server, not only in the browser.

Streamlit's upload endpoint takes any file up to `server.maxUploadSize`, whatever the uploader's
own `max_upload_size` says (that limit lives in the browser), and keeps every file of a session in
memory until the session ends: five 200 MB uploads raised the server's memory by 950 MB for minutes
(issue 22). So, on the server:
- as a file arrives, `UploadGuard` refuses it (HTTP 413, never stored) where it is larger than any
  uploader here accepts, or where it would take the files of its person (all the tabs of one
  browser, ui/access.py) or of its client's address on a LAN (a student who clears the cookie is
  still that address) past the per-person total;
- as a script reads an uploader, `refusal` measures the bytes received against that uploader's own
  limit, and drops a refused file from the server at once, with a sentence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer import fmt

MIB = 2**20
SMALL_FILES_MB = 16  # beside a checkpoint, a person may hold a photo (12 MB) and a spec (1 MB)


class UploadRefused(Exception):
    """A file refused as it arrived (the HTTP layer answers 413 with this sentence)."""


class UploadGuard:
    """Wraps Streamlit's upload manager's `add_file`: sizes checked before a file is stored."""

    def __init__(
        self, manager: Any, max_file_bytes: int, per_person_bytes: int, people_of: Callable[[str], tuple[str, ...]]
    ) -> None:
        self.manager, self.add = manager, manager.add_file
        self.max_file_bytes, self.per_person_bytes, self.people_of = max_file_bytes, per_person_bytes, people_of
        self.lock = threading.Lock()

    def held(self, who: str, except_file: str) -> int:
        """Bytes the sessions of a person (or of an address) hold now (the file being replaced not counted)."""
        storage = self.manager.file_storage
        return sum(
            len(rec.data)
            for session_id, files in list(storage.items())
            if who in self.people_of(session_id)
            for file_id, rec in list(files.items())
            if file_id != except_file
        )

    def add_file(self, session_id: str, file: Any) -> None:
        size = len(file.data)
        if size > self.max_file_bytes:
            raise UploadRefused(
                f"{fmt.nbytes(size)} is larger than any file this server opens ({fmt.nbytes(self.max_file_bytes)})"
            )
        with self.lock:  # the check and the add together: two uploads at once cannot both squeeze in
            held = max(self.held(who, file.file_id) for who in self.people_of(session_id))
            if held + size > self.per_person_bytes:
                raise UploadRefused(
                    f"your uploads would hold {fmt.nbytes(held + size)} on the server; each person may hold "
                    f"{fmt.nbytes(self.per_person_bytes)}: remove a file first"
                )
            self.add(session_id, file)


# session id -> its person and, on a LAN, its client's address, as each session's scripts report
# them; a session's entry goes when the session ends (with its files: install_guard)
_PEOPLE: dict[str, tuple[str, ...]] = {}


def people_of(session_id: str) -> tuple[str, ...]:
    return _PEOPLE.get(session_id) or (f"session {session_id}",)


def register_person(person: str, address: str | None) -> None:
    """This session's person and client address (None on the loopback, where addresses tell no
    one apart) for the upload totals."""
    ctx = get_script_run_ctx()
    if ctx is not None:
        _PEOPLE[ctx.session_id] = (person,) if address is None else (person, f"address {address}")


@st.cache_resource
def install_guard(max_file_mb: int) -> bool:
    """Put the guard in front of this server's upload manager, once (False where there is no
    server: AppTest and bare scripts)."""
    from starlette.exceptions import HTTPException
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return False
    manager = Runtime.instance().uploaded_file_mgr
    guard = UploadGuard(manager, max_file_mb * MIB, (max_file_mb + SMALL_FILES_MB) * MIB, people_of)
    remove_session_files = manager.remove_session_files

    def add_file(session_id: str, file: Any) -> None:
        try:
            guard.add_file(session_id, file)
        except UploadRefused as exc:
            raise HTTPException(status_code=413, detail=str(exc)) from None

    def session_ended(session_id: str) -> None:  # Streamlit calls this as a session shuts down
        _PEOPLE.pop(session_id, None)  # else the map grew by one entry per session, forever
        remove_session_files(session_id)

    manager.add_file = add_file
    manager.remove_session_files = session_ended
    return True


def drop(file: Any) -> None:
    """Remove an uploaded file from the server's memory now (not when the session ends)."""
    from streamlit.runtime import Runtime

    ctx = get_script_run_ctx()
    if ctx is not None and Runtime.exists():
        Runtime.instance().uploaded_file_mgr.remove_file(ctx.session_id, file.file_id)


def refusal(file: Any, limit_mb: float) -> str | None:
    """None where the file's bytes, as received, are within its uploader's limit; otherwise the
    file is dropped from the server at once and the sentence says why."""
    if file is None or file.size <= limit_mb * MIB:
        return None
    drop(file)
    return f"{file.name} is {fmt.nbytes(file.size)}; this box takes files up to {fmt.nbytes(limit_mb * MIB)}"
