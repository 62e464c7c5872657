"""A trained run on new images: its network rebuilt from the stored weights, and any picture made
to look like the dataset's own images before it goes through the same preparation as in training
(explorer.training.data.scale_and_normalise)."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps

from ..arch.checkpoint import load_state_dict
from ..arch.model import build_model
from ..arch.plan import plan_network
from ..arch.spec import ResNetSpec, spec_from_dict
from ..training.data import DATASETS, DatasetInfo, scale_and_normalise
from ..training.run_record import RunRecord
from .feature_maps import StageMaps, first_filters, grad_cam, stage_maps
from .look_inside import part_output

# The preparation torchvision's and timm's ImageNet weights expect (per-channel, on 0..1 pixels).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; decoding one takes ~160 MB and a second or two
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "BMP": "BMP", "GIF": "GIF"}


class PictureError(ValueError):
    """A file that cannot be read as a picture; the message says why, in a sentence."""


def open_picture(source: str | Path | IO[bytes], max_pixels: int = MAX_PIXELS) -> Image.Image:
    """A picture file, decoded now (not lazily), so that a broken file fails here; but only after
    its header says it is a picture format we take (by its content, not its name) and its size
    fits `max_pixels`: a 684 KB PNG can hold 13000x13000 pixels, 2 GB once decoded."""
    cap = f"pictures may have at most {max_pixels / 1e6:,.0f} megapixels"
    try:
        with warnings.catch_warnings():  # Pillow warns of sizes we refuse below anyway
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(source, formats=list(FORMATS))
    except Image.UnidentifiedImageError:
        raise PictureError(f"it is not a picture in a format this app reads ({', '.join(FORMATS.values())})") from None
    except Image.DecompressionBombError:
        raise PictureError(f"it has far too many pixels; {cap}") from None
    except (OSError, SyntaxError, ValueError):  # a header cut short or garbled
        raise PictureError("it starts like a picture, but its header is broken or cut short") from None
    width, height = picture.size
    if width * height > max_pixels:
        raise PictureError(f"it is {width:,} x {height:,} pixels ({width * height / 1e6:,.0f} megapixels); {cap}")
    try:
        picture.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        raise PictureError(
            f"it is a {FORMATS[picture.format]} file, but a broken one (it could not be decoded)"
        ) from None
    return picture


def can_predict(run: RunRecord) -> bool:
    """Whether a stored run has what rebuilding its network takes: a known dataset, its weights and
    the normalisation its inputs had (runs stored by versions before it was kept have none)."""
    return run.recipe.get("dataset") in DATASETS and bool(run.normalize) and run.weights is not None


class Predictor:
    """A trained network and the preparation its images had; runs in float32 on the CPU.

    One predictor may serve several sessions at once (the app caches it per run): every call
    holds its lock, because Grad-CAM and the stage maps hang hooks on the one model."""

    def __init__(self, spec: ResNetSpec, weights: dict[str, torch.Tensor], mean, std) -> None:
        self.lock = threading.Lock()
        self.spec = spec
        self.plan = plan_network(spec)
        self.model = build_model(spec, self.plan).eval()
        load_state_dict(self.model, weights)  # strict; torchvision's and timm's layouts too
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    @classmethod
    def from_run(cls, run: RunRecord) -> Predictor:
        """A stored run's network (see can_predict): its dataset-adapted spec and its weights file,
        loaded weights-only."""
        weights = torch.load(run.weights, map_location="cpu", weights_only=True)
        return cls(spec_from_dict(run.spec), weights, run.normalize["mean"], run.normalize["std"])

    def _input(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, h, w), as the dataset stores them, prepared as in training."""
        size = (self.spec.input.height, self.spec.input.width)
        return scale_and_normalise(images.cpu(), size, self.mean, self.std)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, h, w) -> class probabilities (N, classes)."""
        with self.lock:
            return torch.softmax(self.model(self._input(images)).float(), dim=1)

    def stage_maps(self, image: torch.Tensor) -> list[StageMaps]:
        """One uint8 image (1, C, h, w) -> its activations after the stem and after each stage."""
        with self.lock:
            return stage_maps(self.model, self.plan, self._input(image))

    def part_output(self, image: torch.Tensor, name: str) -> torch.Tensor:
        """One uint8 image (1, C, h, w) -> what part `name` (stem, a block, head) gives for it."""
        with self.lock:
            return part_output(self.model, name, self._input(image))

    def grad_cam(self, image: torch.Tensor, target: int) -> torch.Tensor:
        """Where in one uint8 image (1, C, h, w) the network found class `target`: a 0..1 map at
        the last stage's resolution (feature_maps.grad_cam)."""
        with self.lock:
            return grad_cam(self.model, self.plan, self._input(image), target)

    def first_filters(self) -> torch.Tensor:
        """The trained weights of the stem's first convolution (filters, channels, k, k)."""
        with self.lock:
            return first_filters(self.model, self.plan)


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
    return centre_square(image, dataset.channels, dataset.size, invert)


def centre_square(image: Image.Image, channels: int, side: int, invert: bool = False) -> torch.Tensor:
    """The picture's centre square, upright, grey (1 channel) or RGB, shrunk with antialiasing to
    side x side: uint8 (1, C, side, side)."""
    image = ImageOps.exif_transpose(image).convert("L" if channels == 1 else "RGB")
    square = min(image.size)
    image = ImageOps.fit(image, (square, square), centering=(0.5, 0.5))
    image = image.resize((side, side), Image.Resampling.LANCZOS)
    if invert:
        image = ImageOps.invert(image)
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8))
    return (pixels.unsqueeze(0) if pixels.ndim == 2 else pixels.permute(2, 0, 1)).unsqueeze(0)


def imagenet_classes() -> list[str]:
    """ImageNet-1k's class names, in the order of torchvision's and timm's classifiers (from
    torchvision's weights metadata: nothing is downloaded)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.DEFAULT.meta["categories"])
