"""Uploads are checked on the server (issue 22): a file larger than any uploader accepts, or one
that takes a person past the per-person total, is refused as it arrives and never stored; an
uploader's own limit is measured on the bytes received, and a refused file is dropped at once."""

import tomllib
from types import SimpleNamespace

import pytest
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from ui import uploads
from ui.checkpoint import MAX_UPLOAD_MB
from ui.uploads import MIB, UploadGuard, UploadRefused, refusal


class Sized(bytes):
    """Stands for a file's bytes of a given length without allocating them."""

    def __new__(cls, size: int):
        obj = super().__new__(cls)
        obj.size = size
        return obj

    def __len__(self) -> int:
        return self.size


def _rec(file_id: str, size: int) -> UploadedFileRec:
    return UploadedFileRec(file_id=file_id, name=f"{file_id}.png", type="image/png", data=Sized(size))


@pytest.fixture
def guard():
    people = {
        "tab1": ("person a", "address 10.0.0.7"),
        "tab2": ("person a", "address 10.0.0.7"),
        "other": ("person b", "address 10.0.0.8"),
        "no cookie": ("person c", "address 10.0.0.7"),  # the same computer, its cookie cleared
        "loopback": ("person a",),  # the server's own machine: no address counted
    }
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    return UploadGuard(manager, 100 * MIB, 120 * MIB, lambda session: people[session])


def test_a_file_larger_than_any_uploader_takes_is_never_stored(guard):
    with pytest.raises(UploadRefused) as err:
        guard.add_file("tab1", _rec("huge", 200 * MIB))
    assert str(err.value) == "200.0 MiB is larger than any file this server opens (100.0 MiB)"
    assert guard.manager.file_storage["tab1"] == {}


def test_a_persons_tabs_share_one_total(guard):
    guard.add_file("tab1", _rec("a", 90 * MIB))
    guard.add_file("other", _rec("b", 90 * MIB))  # another address: its own total
    with pytest.raises(UploadRefused) as err:
        guard.add_file("tab2", _rec("c", 40 * MIB))  # a new tab of the same person
    assert str(err.value) == (
        "your uploads would hold 130.0 MiB on the server; each person may hold 120.0 MiB: remove a file first"
    )
    guard.add_file("tab1", _rec("a", 100 * MIB))  # replacing a file counts it once
    assert len(guard.manager.file_storage["tab1"]["a"].data) == 100 * MIB


def test_a_new_person_at_the_same_address_shares_its_total(guard):
    guard.add_file("tab1", _rec("a", 90 * MIB))
    with pytest.raises(UploadRefused):
        guard.add_file("no cookie", _rec("c", 40 * MIB))  # a cleared cookie: still 10.0.0.7
    with pytest.raises(UploadRefused):
        guard.add_file("loopback", _rec("c", 40 * MIB))  # the same person, wherever
    guard.add_file("other", _rec("b", 90 * MIB))
    assert sorted(guard.manager.file_storage) == ["other", "tab1"]


def test_a_200_mb_picture_is_refused_and_dropped_at_once(monkeypatch):
    dropped = []
    monkeypatch.setattr(uploads, "drop", dropped.append)
    picture = SimpleNamespace(name="cat.png", size=200 * MIB, file_id="f1")
    assert refusal(picture, 12) == "cat.png is 200.0 MiB; this box takes files up to 12.0 MiB"
    assert dropped == [picture]
    assert refusal(SimpleNamespace(name="ok.png", size=12 * MIB, file_id="f2"), 12) is None
    assert refusal(None, 12) is None and dropped == [picture]


def test_the_http_cap_is_the_largest_uploader_limit(root):
    config = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB


def test_a_sessions_person_is_forgotten_when_the_session_ends(fresh, monkeypatch):
    """The map of sessions to people grew by one entry per session, forever."""
    from streamlit.runtime import Runtime

    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    monkeypatch.setattr(Runtime, "exists", staticmethod(lambda: True))
    monkeypatch.setattr(Runtime, "instance", classmethod(lambda cls: SimpleNamespace(uploaded_file_mgr=manager)))
    assert uploads.install_guard(100)
    monkeypatch.setitem(uploads._PEOPLE, "ended", ("person a",))
    monkeypatch.setitem(uploads._PEOPLE, "open", ("person b",))
    manager.add_file("ended", _rec("a", MIB))
    manager.remove_session_files("ended")  # what Streamlit calls as a session shuts down
    assert "ended" not in uploads._PEOPLE and uploads._PEOPLE["open"] == ("person b",)
    assert manager.file_storage.get("ended") in (None, {})
