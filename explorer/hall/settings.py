"""The server's settings: the lecturer key, the budgets and the quotas, in one place.

Read from `settings.toml` in the data folder (or the file $RESNET_EXPLORER_SETTINGS names), each
value overridable by an environment variable: RESNET_EXPLORER_ and the name in capitals, e.g.
RESNET_EXPLORER_LECTURER_KEY or RESNET_EXPLORER_TRAIN_MEMORY_GIB=8. What is not set follows the
machine: a share of its RAM (or of the GPU's memory) and of the data folder's disk.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .. import paths
from ..arch.validate import SpecError

ENV_PREFIX = "RESNET_EXPLORER_"
GIB = 2**30


class SettingsError(SpecError):
    """A bad value in settings.toml or the environment: names the setting, the file and the range."""


@dataclass(frozen=True)
class Settings:
    # Typed once in the sidebar, it lets a lecturer stop and delete any run and skip the quotas.
    # None: the lecturer is whoever uses the server's own machine (a loopback client), never a
    # client on the LAN, whatever address the server listens on.
    lecturer_key: str | None = None
    # What one training run may take of its device's memory (RAM on a CPU, the GPU's own memory):
    # weights, gradients, optimizer state and the batch's activations, estimated from the plan.
    train_memory_gib: float = 0.0  # 0: half the device's memory
    # What the server process may spend building a network itself (torchinfo, Try it): weights and
    # one image's activations. Kept small: every student's session lives in that process.
    build_memory_gib: float = 0.0  # 0: a tenth of the RAM
    # What all the heavy work in the server's process together may take at once (look inside,
    # ONNX export, torchinfo, Try it, opening checkpoints), and how many such computations run at
    # once; the rest wait their turn (explorer/hall/admission.py).
    server_memory_gib: float = 0.0  # 0: twice the build memory (two of the largest builds at once)
    heavy_at_once: int = 0  # 0: one per two cores the server may use (the pages keep the other)
    max_params: int = 0  # 0: as many fp32 weights as the build memory holds
    max_gmacs_per_image: float = 200.0  # a forward pass in the server: ~10 s on two cores at most
    max_batch_megapixels: float = 268.0  # input pixels x batch: 256 colour images of 584x584 px
    max_run_minutes: float = 30.0  # estimated length of one student's run (the lecturer's are not capped)
    # Queued or running runs one person may have, in all the tabs of their browser together (a signed
    # cookie tells people apart: explorer/hall/identity.py); the lecturer: any.
    runs_per_person: int = 2
    # ... and all the people of one client address together: a student who clears the cookie is still
    # one address on a LAN. Raise it where several people share an address (behind NAT); the
    # server's own machine is not counted.
    runs_per_address: int = 4
    # 1: the server sits behind a reverse proxy on this machine that sets X-Forwarded-For, and the
    # client's address is read from it. 0: a proxied client is no one in particular (never loopback).
    trusted_proxy: int = 0
    queue_size: int = 50  # queued or running runs on the whole server
    checkpoint_disk_gib: float = 0.0  # 0: a fifth of the data folder's disk, at most 20 GiB
    worker_memory_gib: float = 0.0  # 0: three quarters of the RAM; a worker past it is stopped
    # 1: the training worker starts (and measures the device) when the server's first page runs, so a
    # first visit of Train does not wait for it (3.3-3.9 s, issue 23); 0: at the first visit of Train.
    warm_up_workers: int = 1
    # Where the run history and the challenge are kept: empty, runs.sqlite in the data folder (one
    # machine, any number of server processes); postgresql://user@host/database, a PostgreSQL server
    # that several machines share (explorer/store/, docs/store.md).
    store_url: str = ""
    # Where runs train: empty, this machine's worker processes; `auto` (the Ray cluster this machine is
    # a node of) or HOST:PORT / ray://HOST:PORT, a Ray cluster's GPUs (docs/gpu-server.md, "a GPU
    # cluster through Ray"; explorer/training/ray_backend.py).
    ray_address: str = ""
    # What signs the person cookie: empty, a random secret made once in the data folder (person.secret);
    # give the same text to servers that share one store_url, so they know the same people.
    person_secret: str = ""
    # 1: this server is one of several processes behind one proxy (`resnet-explorer serve --replicas N`
    # sets it): the queue, its positions, quotas and stop requests, and what the lecturer shows to
    # followers, go through the store they share instead of this process's memory (docs/course.md).
    replicated: int = 0
    # With replicated = 1, 1: this process may feed the machine's training workers (the first replica
    # to start does; one per data folder); 0: it only queues runs, for the others to train.
    train: int = 1


# settings that are text; the others are numbers in _RANGES
TEXT = ("lecturer_key", "store_url", "ray_address", "person_secret")
_RANGES: dict[str, tuple[float, float]] = {
    "train_memory_gib": (0.0, 1e6),
    "build_memory_gib": (0.0, 1e6),
    "server_memory_gib": (0.0, 1e6),
    "heavy_at_once": (0, 1000),
    "max_params": (0, 10**13),
    "max_gmacs_per_image": (0.001, 1e7),
    "max_batch_megapixels": (0.001, 1e7),
    "max_run_minutes": (0.1, 1e6),
    "runs_per_person": (1, 10_000),
    "runs_per_address": (1, 10_000),
    "trusted_proxy": (0, 1),
    "queue_size": (1, 100_000),
    "checkpoint_disk_gib": (0.0, 1e6),
    "worker_memory_gib": (0.0, 1e6),
    "warm_up_workers": (0, 1),
    "replicated": (0, 1),
    "train": (0, 1),
}


def settings_file() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "SETTINGS") or paths.home() / "settings.toml")


def how_to_set(name: str) -> str:
    """Where a lecturer changes a setting: for refusals to end with."""
    return f"{name} in {settings_file()} or {ENV_PREFIX}{name.upper()}"


RAY_ADDRESS = re.compile(r"(ray://)?[\w.-]+:\d{1,5}")


def _coerce(name: str, value: Any, kind: type, where: str) -> Any:
    if name == "lecturer_key":
        return str(value).strip() or None
    if name == "ray_address":
        address = str(value).strip()
        if address not in ("", "auto") and not RAY_ADDRESS.fullmatch(address):
            raise SettingsError(
                name, f"{value!r} in {where} is not a Ray address; allowed: empty (this machine's "
                "workers), auto, HOST:PORT or ray://HOST:PORT"
            )  # fmt: skip
        return address
    if name in TEXT:
        return str(value).strip()
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or (kind is int and not number.is_integer()):
        raise SettingsError(name, f"{value!r} in {where} is not {'a whole number' if kind is int else 'a number'}")
    low, high = _RANGES[name]
    if not low <= number <= high:
        raise SettingsError(name, f"{value} in {where} is out of range; allowed {low:g}..{high:g}")
    return kind(number)


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError("settings", f"cannot read {path}: {exc}") from None
    known = {f.name for f in fields(Settings)}
    for key in data:
        _refuse_renamed(key, str(path))
        if key not in known:
            raise SettingsError(str(key), f"unknown setting in {path}; known: {', '.join(sorted(known))}")
    return data


RENAMED = {"runs_per_session": "runs_per_person"}  # old name -> new: counted per person since issue 22


def _refuse_renamed(name: str, where: str) -> None:
    if name in RENAMED:
        raise SettingsError(
            name, f"in {where} is now called {RENAMED[name]} (counted per person, all of a browser's tabs): rename it"
        )  # fmt: skip


def load_settings() -> Settings:
    """The settings file, then the environment; SettingsError names a bad value and where it is."""
    path = settings_file()
    values: dict[str, Any] = {}
    types = {f.name: (str if f.name in TEXT else type(f.default)) for f in fields(Settings)}
    for name, value in _read_file(path).items():
        values[name] = _coerce(name, value, types[name], str(path))
    for name in RENAMED:
        if os.environ.get(ENV_PREFIX + name.upper()) is not None:
            _refuse_renamed(name, ENV_PREFIX + name.upper())
    for name in types:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None:
            values[name] = _coerce(name, env, types[name], ENV_PREFIX + name.upper())
    return replace(Settings(), **values)


# ----- what the machine has ----------------------------------------------------------------------
def ram_bytes() -> int:
    """Physical memory, or the container's memory limit where that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def disk_bytes(folder: Path) -> int:
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).total


def gpu_memory_bytes() -> int | None:
    """The smallest visible GPU's memory (a run may land on any of them), or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    return min(torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count()))
