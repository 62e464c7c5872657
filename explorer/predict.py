"""A trained run on new images: its network rebuilt from the stored weights, and any picture made
to look like the dataset's own images before it goes through the same preparation as in training
(explorer.data.scale_and_normalise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .data import DatasetInfo, scale_and_normalise
from .model import build_model
from .spec import ResNetSpec


class Predictor:
    """A trained network and the preparation its images had; runs in float32 on the CPU."""

    def __init__(self, spec: ResNetSpec, weights: dict[str, torch.Tensor], mean, std) -> None:
        self.spec = spec
        self.model = build_model(spec).eval()
        self.model.load_state_dict(weights)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    @classmethod
    def from_checkpoint(cls, spec: ResNetSpec, checkpoint: str | Path, mean, std) -> Predictor:
        """A stored run's network: its (dataset-adapted) spec and weights file, loaded weights-only."""
        return cls(spec, torch.load(checkpoint, map_location="cpu", weights_only=True), mean, std)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, h, w), as the dataset stores them -> class probabilities (N, classes)."""
        size = (self.spec.input.height, self.spec.input.width)
        x = scale_and_normalise(images.cpu(), size, self.mean, self.std)
        return torch.softmax(self.model(x).float(), dim=1)


def looks_inverted(image: Image.Image, dataset: DatasetInfo) -> bool:
    """Whether a picture is the dataset's images in negative: a light border (paper, a white
    canvas) where the dataset's images are light on a black background."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return dataset.light_on_dark and float(border.mean()) > 127


def image_as_dataset_item(image: Image.Image, dataset: DatasetInfo, invert: bool) -> torch.Tensor:
    """Any picture as one of the dataset's images: uint8 (1, C, side, side) at the dataset's native
    side, grey or RGB as the dataset. The centre square is kept (the datasets' images are square)
    and shrunk with antialiasing, so that the network sees what training showed it."""
    image = ImageOps.exif_transpose(image).convert("L" if dataset.channels == 1 else "RGB")
    side = min(image.size)
    image = ImageOps.fit(image, (side, side), centering=(0.5, 0.5))  # the centre square
    image = image.resize((dataset.size, dataset.size), Image.Resampling.LANCZOS)
    if invert:
        image = ImageOps.invert(image)
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8))
    return (pixels.unsqueeze(0) if pixels.ndim == 2 else pixels.permute(2, 0, 1)).unsqueeze(0)
