"""Which process a run belongs to, and whether that process still lives: a boot id per process.

Each server (and each `train` command) takes a random id when it first records a run and holds an
exclusive lock on `processes/<id>.lock` in the data folder for as long as it lives. The kernel drops
the lock when the process ends, however it ends (kill -9 included), so a later server that can take
the lock knows the runs recorded under that id were left behind. A pid could not say this: pids are
reused, and a new process with an old run's pid kept it "running" forever.
"""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from pathlib import Path

BOOT_ID = uuid.uuid4().hex  # this process's (a spawned worker imports the module anew: its own)
_lock = threading.Lock()
_held: dict[Path, int] = {}  # data folder -> the descriptor holding this process's lock there


def _forked() -> None:
    """A forked child is a process of its own: a boot id of its own, and none of its parent's locks
    (which stay its parent's: the parent's descriptors still hold them)."""
    global BOOT_ID, _lock
    BOOT_ID, _lock = uuid.uuid4().hex, threading.Lock()
    _held.clear()


os.register_at_fork(after_in_child=_forked)


def _lock_file(folder: Path, boot: str) -> Path:
    return Path(folder) / "processes" / f"{boot}.lock"


def my_id(folder: Path) -> str:
    """This process's boot id, with its lock taken in `folder` (the run store's) on first use."""
    folder = Path(folder).resolve()
    with _lock:
        if folder not in _held:
            path = _lock_file(folder, BOOT_ID)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.set_inheritable(fd, False)  # a worker process must not keep a dead server "alive"
            _held[folder] = fd
    return BOOT_ID


def is_alive(folder: Path, boot: str) -> bool:
    """Whether the process with this boot id still holds its lock in `folder`."""
    if boot == BOOT_ID:
        return True
    path = _lock_file(folder, boot)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)  # its owner is gone: nobody needs the file again
    return False
