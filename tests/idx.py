"""Tiny IDX files (the MNIST family's raw format) that tests write instead of downloading."""

import struct
from pathlib import Path

import numpy as np


def write_idx(root: Path, folder: str = "FashionMNIST", train: int = 120, test: int = 40, seed: int = 0) -> Path:
    """Write train/t10k images and labels into root/folder/raw; images carry a class-dependent
    pattern so a network can learn them."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", train), ("t10k", test)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 * label : 2 * label + 6, 4:24] = 250  # a bar whose height says the class
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    return raw
