"""Where ResNet Explorer keeps its files: $RESNET_EXPLORER_HOME, default ~/.resnet-explorer.

datasets/       downloaded datasets (torchvision layout: FashionMNIST/raw, ...)
runs.sqlite     the run history (SQLite, WAL), unless store_url names a PostgreSQL server
checkpoints/    weights of finished runs (state_dicts)
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("RESNET_EXPLORER_HOME", Path.home() / ".resnet-explorer"))


def datasets_dir() -> Path:
    return home() / "datasets"


def runs_db() -> Path:
    return home() / "runs.sqlite"
