"""Reading a weights file without trusting it: sizes first, then torch.load weights-only.

A .pt file saved by torch is a zip archive whose entries may be deflated: a 1 MB upload can hold a
1 GiB zero tensor, which torch.load inflates in full before anything else is checked (issue 22
measured +1 GB per upload). So the archive's directory is read first, and every entry's
uncompressed size, and their total, must fit the budget the caller gives (the build budget in the
app and the CLI). An archive whose entries are all stored (torch.save's own way) is loaded with
mmap=True from a file: the tensors are pages of the file, read when touched.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .. import fmt
from .checkpoint import unwrap
from .spec import SpecError

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_2 = b"\x80"  # torch's legacy (pre-1.6) files are a pickle stream, protocol 2 and up


def _not_a_checkpoint(name: str) -> SpecError:
    return SpecError("weights", f"{name} is truncated or not a PyTorch checkpoint")


def check_archive(source: bytes | Path, max_bytes: int | None, name: str) -> bool:
    """Refuse a zip archive that would inflate past `max_bytes` (one entry, or all of them), from
    its directory alone; True where every entry is stored uncompressed (so it can be memory-mapped)."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _not_a_checkpoint(name) from None
    total = sum(entry.file_size for entry in entries)
    if max_bytes is not None and total > max_bytes:
        largest = max(entries, key=lambda entry: entry.file_size)
        raise SpecError(
            "weights", f"{name} unpacks to {fmt.nbytes(total)} ({largest.filename} alone "
            f"{fmt.nbytes(largest.file_size)}); this server opens at most {fmt.nbytes(max_bytes)}, its build budget",
        )  # fmt: skip
    return all(entry.compress_type == zipfile.ZIP_STORED for entry in entries)


def _read_safetensors(data: bytes, name: str) -> dict[str, Any]:
    try:
        from safetensors.torch import load
    except ImportError:
        raise SpecError("weights", "reading .safetensors needs the safetensors package") from None
    try:  # the header names each tensor's byte range in this file: nothing inflates
        return unwrap(load(data))
    except Exception as exc:  # safetensors raises its own SafetensorError for every bad file
        raise SpecError("weights", f"{name} is not a readable safetensors file ({exc})") from None


def _torch_load(source: io.BytesIO | str, name: str, mmap: bool) -> dict[str, Any]:
    try:
        obj = torch.load(source, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # torch names a refused class or function as GLOBAL module.name
            raise _not_a_checkpoint(name) from None
        raise SpecError(
            "weights",
            f"{name} holds pickled objects other than tensors (code could run on loading); "
            "save the model's state_dict() instead",
        ) from None
    except Exception:  # a damaged file fails anywhere in the unpickler or the zip reader
        raise _not_a_checkpoint(name) from None
    return unwrap(obj)


def _is_safetensors(head: bytes) -> bool:
    return len(head) > 8 and head[8:9] == b"{"  # an 8-byte header length, then the JSON header


def read_weights(data: bytes, filename: str = "", max_bytes: int | None = None) -> dict[str, Any]:
    """The state_dict in a .pt/.pth file (torch.load with weights_only=True: no code runs) or a
    .safetensors file, its size and its archive's unpacked size within `max_bytes`. Every failure
    is one sentence (SpecError on the field "weights")."""
    name = filename or "the file"
    if max_bytes is not None and len(data) > max_bytes:
        raise SpecError("weights", f"the file is {len(data):,} bytes; this server reads at most {max_bytes:,}")
    if _is_safetensors(data):
        return _read_safetensors(data, name)
    if data.startswith(ZIP_MAGIC):
        check_archive(data, max_bytes, name)
    elif not data.startswith(PICKLE_PROTOCOL_2):
        raise _not_a_checkpoint(name)  # random bytes used to reach the unpickler and be called code
    return _torch_load(io.BytesIO(data), name, mmap=False)


def read_weights_file(path: str | Path, max_bytes: int | None = None) -> dict[str, Any]:
    """`read_weights` for a file on disk, memory-mapped where torch allows (a zip of stored entries):
    the command line and the worker never hold a second copy of the weights in memory."""
    path = Path(path)
    size = path.stat().st_size  # OSError for the caller to word
    if max_bytes is not None and size > max_bytes:
        raise SpecError("weights", f"{path.name} is {size:,} bytes; this server reads at most {max_bytes:,}")
    with path.open("rb") as file:
        head = file.read(9)
    if not head.startswith(ZIP_MAGIC):
        return read_weights(path.read_bytes(), path.name, max_bytes)
    stored = check_archive(path, max_bytes, path.name)
    return _torch_load(str(path), path.name, mmap=stored)
