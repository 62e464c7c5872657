"""Datasets as uint8 tensors, and batches made on the training device.

The images stay uint8 (N, C, H, W) on the device — 47 MB for Fashion-MNIST — and each batch is
resized, normalised and augmented there, so no DataLoader, worker process or pre-resized float
copy (Fashion-MNIST at 96 px in float32 would be 2.2 GB) is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import paths
from ..arch.validate import SpecError

Progress = Callable[[str], None]

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(i) for i in range(10))


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    torchvision_class: str | None  # None: bundled with scikit-learn, works offline
    channels: int
    size: int  # native side in px
    classes: tuple[str, ...]
    download_mb: int
    flip_ok: bool  # horizontal flips keep the label (clothes yes, digits no)
    train_size: int
    test_size: int
    # bright ink or garment on black, as the MNIST family; a photo of a drawing on paper is the
    # opposite and must be inverted to look like the training images
    light_on_dark: bool = True


KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

DATASETS: dict[str, DatasetInfo] = {
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST", "FashionMNIST", 1, 28, FASHION_CLASSES, 30, True, 60_000, 10_000
    ),
    "mnist": DatasetInfo("mnist", "MNIST", "MNIST", 1, 28, DIGIT_CLASSES, 12, False, 60_000, 10_000),
    "kmnist": DatasetInfo("kmnist", "Kuzushiji-MNIST", "KMNIST", 1, 28, KMNIST_CLASSES, 20, False, 60_000, 10_000),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10", "CIFAR10", 3, 32, CIFAR10_CLASSES, 163, True, 50_000, 10_000, light_on_dark=False
    ),
    # scikit-learn's 1,797 bundled 8x8 digits, split 80/20 here: works offline
    "digits": DatasetInfo("digits", "Digits (offline)", None, 1, 8, DIGIT_CLASSES, 0, False, 1_437, 360),
}
OFFLINE_DATASET = "digits"


class DatasetError(SpecError):
    """A dataset that cannot be had: unknown, offline, or corrupt. The message says which and where."""


@dataclass
class ImageData:
    """A dataset as uint8 images (N, C, H, W) and int64 labels, train and test."""

    info: DatasetInfo
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: tuple[float, ...]  # per channel, of x_train / 255
    std: tuple[float, ...]

    def to(self, device: torch.device) -> ImageData:
        return ImageData(
            self.info,
            self.x_train.to(device),
            self.y_train.to(device),
            self.x_test.to(device),
            self.y_test.to(device),
            self.mean,
            self.std,
        )


def _as_nchw(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 3:  # (N, H, W) grey-scale
        return x.unsqueeze(1).contiguous()
    return x.permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)


def _download_torchvision(cls: type, root: Path, info: DatasetInfo, progress: Progress) -> None:
    """torchvision's own download (mirrors, md5 checks), one archive at a time so the page can
    show how far it got."""
    from torchvision.datasets.utils import download_and_extract_archive

    if hasattr(cls, "resources") and hasattr(cls, "mirrors"):  # the MNIST family
        dataset = cls.__new__(cls)
        dataset.root = str(root)
        if dataset._check_exists():
            return
        files = cls.resources
        for i, (filename, md5) in enumerate(files, 1):
            progress(f"Downloading {info.title} into {root}: file {i} of {len(files)} ({filename})")
            errors = []
            for mirror in cls.mirrors:
                try:
                    download_and_extract_archive(
                        f"{mirror}{filename}", download_root=dataset.raw_folder, filename=filename, md5=md5
                    )
                    break
                except (OSError, RuntimeError) as exc:  # URLError is an OSError
                    errors.append(str(exc))
            else:
                raise OSError("; ".join(errors))
    else:  # CIFAR-10: one archive
        progress(f"Downloading {info.title} (~{info.download_mb} MB) into {root}")
        cls(str(root), train=True, download=True)


def _load_torchvision(info: DatasetInfo, root: Path, download: bool, progress: Progress) -> ImageData:
    import torchvision.datasets as tvd

    cls = getattr(tvd, info.torchvision_class)
    try:
        if download:
            _download_torchvision(cls, root, info, progress)
        progress(f"Reading {info.title} from {root}")
        train, test = cls(str(root), train=True, download=False), cls(str(root), train=False, download=False)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        what = "could not be downloaded (offline?)" if download else "was not found"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(
            "dataset",
            f"{info.name} {what} or is corrupt in {root}: {reason}. "
            f"Try again online, delete the folder to re-download, or use '{OFFLINE_DATASET}', which works offline.",
        ) from None

    def tensors(split) -> tuple[torch.Tensor, torch.Tensor]:
        x = split.data if isinstance(split.data, torch.Tensor) else torch.from_numpy(split.data)
        y = split.targets if isinstance(split.targets, torch.Tensor) else torch.tensor(split.targets)
        return _as_nchw(x.to(torch.uint8)), y.to(torch.int64)

    return _with_stats(info, *tensors(train), *tensors(test))


def _load_digits(info: DatasetInfo) -> ImageData:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images).mul(255 / 16).round().to(torch.uint8).unsqueeze(1)  # 0..16 -> 0..255
    y = torch.from_numpy(digits.target).to(torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))  # a fixed 80/20 split
    x, y = x[order], y[order]
    cut = int(0.8 * len(y))
    return _with_stats(info, x[:cut], y[:cut], x[cut:], y[cut:])


def _with_stats(info: DatasetInfo, x_train, y_train, x_test, y_test) -> ImageData:
    scaled = x_train.float().div_(255)
    mean = tuple(scaled.mean(dim=(0, 2, 3)).tolist())
    std = tuple(max(s, 1e-3) for s in scaled.std(dim=(0, 2, 3)).tolist())
    return ImageData(info, x_train, y_train, x_test, y_test, mean, std)


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    download: bool = True,
    progress: Progress | None = None,
) -> ImageData:
    """Load a dataset as uint8 tensors. `limit` keeps the first N training images (a fixed
    shuffle, so classes stay balanced) for quick demos; the test split stays whole."""
    if name not in DATASETS:
        raise DatasetError("dataset", f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    info = DATASETS[name]
    progress = progress or (lambda message: None)
    if info.torchvision_class is None:
        data = _load_digits(info)
    else:
        data = _load_torchvision(info, Path(data_dir or paths.datasets_dir()), download, progress)
    return subset(data, limit)


def subset(data: ImageData, limit: int | None, test_limit: int | None = None) -> ImageData:
    """The first `limit` training images and `test_limit` test images, each of a fixed shuffle
    (classes stay balanced); None keeps the split whole. The normalisation stays the whole set's."""

    def first(x: torch.Tensor, y: torch.Tensor, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        if n is None or n >= len(y):
            return x, y
        keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:n]
        return x[keep], y[keep]

    if (limit is None or limit >= len(data.y_train)) and (test_limit is None or test_limit >= len(data.y_test)):
        return data
    return ImageData(
        data.info, *first(data.x_train, data.y_train, limit), *first(data.x_test, data.y_test, test_limit),
        data.mean, data.std,
    )  # fmt: skip


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """x in channels_last memory with channels_last strides, also for one channel. There the two
    layouts coincide in memory and .contiguous(memory_format=channels_last) keeps the NCHW strides;
    cuDNN reads those as NCHW and adds layout conversions around the first convolution (seen in the
    GPU profile of d2l-resnet18 on Fashion-MNIST, benchmarks/RESULTS.md)."""
    if x.stride(1) == 1 and x.is_contiguous(memory_format=torch.channels_last):
        return x
    return torch.empty_like(x, memory_format=torch.channels_last).copy_(x)


def scale_and_normalise(x: torch.Tensor, size: tuple[int, int], mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 images (B, C, h, w) -> (B, C, *size) in mean's dtype: to [0, 1], resized, then
    normalised with the training images' per-channel mean and std ((1, C, 1, 1) tensors). What
    every image a network of this project sees goes through, in training and after it."""
    x = x.to(mean.dtype).div_(255)
    if tuple(x.shape[-2:]) != tuple(size):
        # bilinear, as torchvision's Resize in d2l's load_data_fashion_mnist
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return (x - mean) / std


class DeviceBatches:
    """Batches of a device-resident uint8 dataset: resize, normalise and augment on the device."""

    def __init__(
        self,
        data: ImageData,
        size: int,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        augment: bool = False,
    ) -> None:
        self.data = data
        self.size = size
        self.dtype = dtype
        self.channels_last = channels_last
        self.augment = augment
        device = data.x_train.device
        self.mean = torch.tensor(data.mean, device=device, dtype=dtype).view(1, -1, 1, 1)
        self.std = torch.tensor(data.std, device=device, dtype=dtype).view(1, -1, 1, 1)

    def prepare(self, x: torch.Tensor, train: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        """uint8 (B, C, h, w) -> normalised (B, C, size, size) in self.dtype."""
        x = scale_and_normalise(x, (self.size, self.size), self.mean, self.std)
        if train and self.augment:
            x = augment_batch(x, self.data.info.flip_ok, generator)
        return to_channels_last(x) if self.channels_last else x

    def train_batches(
        self,
        batch_size: int,
        generator: torch.Generator,
        rank: int = 0,
        world: int = 1,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch, shuffled on the device; with several ranks each takes its own shard."""
        n = len(self.data.y_train)
        order = torch.randperm(n, device=self.data.x_train.device, generator=generator)
        order = order[: n - n % world][rank::world]  # equal shards: DDP needs the same step count everywhere
        end = len(order) - len(order) % batch_size if drop_last and len(order) >= batch_size else len(order)
        for start in range(0, end, batch_size):
            idx = order[start : start + batch_size]
            yield self.prepare(self.data.x_train[idx], True, generator), self.data.y_train[idx]

    def test_batches(
        self, batch_size: int, rank: int = 0, world: int = 1
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The test split in order (index, images, labels); with several ranks, a strided shard."""
        n = len(self.data.y_test)
        idx_all = torch.arange(rank, n, world, device=self.data.x_test.device)
        for start in range(0, len(idx_all), batch_size):
            idx = idx_all[start : start + batch_size]
            yield idx, self.prepare(self.data.x_test[idx], False), self.data.y_test[idx]

    def steps_per_epoch(self, batch_size: int, world: int = 1, drop_last: bool = False) -> int:
        n = len(self.data.y_train) // world
        return n // batch_size if drop_last and n >= batch_size else -(-n // batch_size)


def augment_batch(x: torch.Tensor, flip: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Random horizontal flip (where it keeps the label) and random translation by up to 1/8 of
    the side, zero-filled — the usual CIFAR crop (pad 4, crop 32), per sample, on the device."""
    b, _, h, w = x.shape
    device = x.device
    if flip:
        mask = torch.rand(b, device=device, generator=generator) < 0.5
        x = torch.where(mask.view(b, 1, 1, 1), x.flip(-1), x)
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), device=device, generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=device, generator=generator)
    rows = (dy.view(b, 1) + torch.arange(h, device=device)).view(b, 1, h, 1).expand(b, x.shape[1], h, w + 2 * pad)
    padded = padded.gather(2, rows)
    cols = (dx.view(b, 1) + torch.arange(w, device=device)).view(b, 1, 1, w).expand(b, x.shape[1], h, w)
    return padded.gather(3, cols)
