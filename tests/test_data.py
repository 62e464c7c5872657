"""Datasets: the torchvision path on tiny IDX files, the offline digits, device-side batches."""

import pytest
import torch

from explorer.training.data import DATASETS, DatasetError, DeviceBatches, augment_batch, load_dataset, subset

from .idx import write_idx


def test_torchvision_fashion_mnist_from_idx_files(tmp_path):
    write_idx(tmp_path)
    messages = []
    data = load_dataset("fashion-mnist", tmp_path, progress=messages.append)  # files there: no download
    assert data.x_train.shape == (120, 1, 28, 28) and data.x_train.dtype == torch.uint8
    assert data.x_test.shape == (40, 1, 28, 28)
    assert data.y_train.dtype == torch.int64 and sorted(data.y_train.unique().tolist()) == list(range(10))
    assert any("Reading Fashion-MNIST" in m for m in messages)
    pixels = data.x_train.float().div(255)  # the training images' own statistics, as torch computes them
    assert data.mean[0] == pytest.approx(float(pixels.mean())) and data.std[0] == pytest.approx(float(pixels.std()))


def test_other_mnist_family_folders(tmp_path):
    write_idx(tmp_path, "MNIST")
    write_idx(tmp_path, "KMNIST")
    assert load_dataset("mnist", tmp_path, download=False).x_train.shape == (120, 1, 28, 28)
    assert load_dataset("kmnist", tmp_path, download=False).y_test.shape == (40,)


def test_missing_files_offline_name_dataset_and_folder(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion-mnist", tmp_path / "empty", download=False)
    message = str(info.value)
    assert "fashion-mnist" in message and str(tmp_path / "empty") in message and "'digits'" in message


def test_corrupt_files_are_reported(tmp_path):
    raw = write_idx(tmp_path)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(DatasetError, match=r"fashion-mnist .*corrupt in .*"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_download_failure_is_reported(tmp_path, monkeypatch):
    import torchvision.datasets.utils as utils

    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(utils, "download_and_extract_archive", offline)
    messages = []
    with pytest.raises(DatasetError, match="could not be downloaded \\(offline\\?\\)"):
        load_dataset("fashion-mnist", tmp_path, progress=messages.append)
    assert messages[0].startswith("Downloading Fashion-MNIST into") and "file 1 of 4" in messages[0]


def test_digits_work_offline():
    data = load_dataset("digits")
    info = DATASETS["digits"]
    assert data.x_train.shape == (info.train_size, 1, 8, 8) and data.x_test.shape == (info.test_size, 1, 8, 8)
    assert data.x_train.max() == 255


def test_subset_keeps_classes_balanced():
    data = subset(load_dataset("digits"), 500)
    assert len(data.y_train) == 500 and len(data.y_test) == DATASETS["digits"].test_size
    assert data.y_train.bincount().min() > 30


def test_batches_resize_normalise_and_cover_the_epoch():
    data = load_dataset("digits")
    batches = DeviceBatches(data, size=28)
    seen = 0
    for x, y in batches.train_batches(100, torch.Generator().manual_seed(0)):
        assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32 and len(x) == len(y)
        seen += len(y)
    assert seen == len(data.y_train)
    assert batches.steps_per_epoch(100) == -(-len(data.y_train) // 100)
    x = torch.cat([x for _, x, _ in batches.test_batches(1000)])
    assert abs(float(x.mean())) < 0.2  # normalised with the training statistics


def test_shards_are_disjoint_and_equal():
    data = subset(load_dataset("digits"), 101)
    batches = DeviceBatches(data, size=8)
    shards = []
    for rank in range(2):
        g = torch.Generator().manual_seed(3)
        shards.append(torch.cat([y for _, y in batches.train_batches(1000, g, rank, 2)]))
    assert len(shards[0]) == len(shards[1]) == 50


def test_augmentation_flips_and_translates():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 4:12, 0:3] = 1.0  # a bar on the left edge
    out = augment_batch(x, flip=True, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    right_heavy = (out[..., 8:].sum(dim=(1, 2, 3)) > out[..., :8].sum(dim=(1, 2, 3))).float().mean()
    assert 0.2 < right_heavy < 0.8  # about half flipped
    unflipped = augment_batch(x, flip=False, generator=torch.Generator().manual_seed(0))
    assert (unflipped[..., 8:].sum() == 0) and not torch.equal(unflipped, x)  # shifted, never flipped
