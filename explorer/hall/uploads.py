"""Checkpoints opened in the app, kept on disk for the runs that start from them.

A file is stored once under the hash of its bytes (a class opening the same checkpoint stores one
copy) in the data folder's uploads/, and the oldest go first when the folder passes its budget.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..paths import home


def uploads_dir() -> Path:
    return home() / "uploads"


def store_upload(data: bytes, filename: str, budget_bytes: int) -> Path:
    """Write the checkpoint (atomically, once per content) and return its path; older uploads
    beyond `budget_bytes` in all are removed, never the one just stored."""
    folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".safetensors" if filename.endswith(".safetensors") else ".pt"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
    if not path.exists():
        partial = path.with_suffix(path.suffix + f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(path)
    path.touch()  # the newest now: pruning goes oldest first
    _prune(folder, budget_bytes, keep=path)
    return path


def _prune(folder: Path, budget_bytes: int, keep: Path) -> None:
    files = sorted((f for f in folder.iterdir() if f.is_file() and f != keep), key=lambda f: f.stat().st_mtime)
    total = keep.stat().st_size + sum(f.stat().st_size for f in files)
    for old in files:
        if total <= budget_bytes:
            break
        total -= old.stat().st_size
        old.unlink(missing_ok=True)
