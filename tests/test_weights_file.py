"""Weights files a hostile class would send (issue 22): an archive that inflates past the build
budget is refused from its directory before torch.load, random bytes are not called code, and a
stored archive is memory-mapped; the CLI and the app read through the same functions."""

import io
import random
import zipfile

import pytest
import torch

from explorer.arch import weights_file
from explorer.arch.spec import SpecError
from explorer.arch.weights_file import read_weights, read_weights_file
from explorer.cli import main

MIB = 2**20


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _deflated(data: bytes) -> bytes:
    """torch.save's archive with every entry deflated: what a zip bomb of zeros looks like."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in source.infolist():
            archive.writestr(entry.filename, source.read(entry.filename))
    return out.getvalue()


BOMB = _deflated(_saved({"conv1.weight": torch.zeros(MIB)}))  # 4 MiB of zeros in about 5 KB


def test_an_archive_that_inflates_past_the_budget_is_refused_before_loading(monkeypatch):
    assert len(BOMB) < 10_000
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load reached"))
    with pytest.raises(SpecError) as err:
        read_weights(BOMB, "bomb.pt", max_bytes=MIB)
    assert str(err.value) == (
        "weights: bomb.pt unpacks to 4.0 MiB (archive/data/0 alone 4.0 MiB); "
        "this server opens at most 1.0 MiB, its build budget"
    )


def test_a_deflated_archive_within_the_budget_still_opens():
    assert read_weights(BOMB, "small.pt", max_bytes=8 * MIB)["conv1.weight"].shape == (MIB,)


@pytest.mark.parametrize(
    "data",
    [random.Random(0).randbytes(4000), b"\x80\x02" + random.Random(1).randbytes(4000), b"PK\x03\x04garbage"],
    ids=["random", "pickle-header-then-random", "zip-header-then-garbage"],
)
def test_garbage_is_not_a_checkpoint_and_not_code(data):
    with pytest.raises(SpecError) as err:
        read_weights(data, "noise.pth")
    assert str(err.value) == "weights: noise.pth is truncated or not a PyTorch checkpoint"


def test_real_pickled_code_is_still_called_code():
    with pytest.raises(SpecError, match=r"noise.pth holds pickled objects other than tensors \(code could run"):
        read_weights(_saved(torch.nn.Linear(2, 2)), "noise.pth")


def test_a_stored_archive_on_disk_is_memory_mapped_and_a_deflated_one_is_not(tmp_path, monkeypatch):
    seen, load = [], torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: seen.append(k["mmap"]) or load(*a, **k))
    plain, deflated = tmp_path / "plain.pt", tmp_path / "deflated.pt"
    plain.write_bytes(_saved({"conv1.weight": torch.arange(6.0)}))
    deflated.write_bytes(_deflated(plain.read_bytes()))
    assert torch.equal(read_weights_file(plain, MIB)["conv1.weight"], torch.arange(6.0))
    assert torch.equal(read_weights_file(deflated, MIB)["conv1.weight"], torch.arange(6.0))
    assert seen == [True, False]
    assert weights_file.check_archive(plain, None, "plain.pt") is True


def test_the_cli_refuses_the_bomb_with_the_build_budget(tmp_path, monkeypatch, capsys, home):
    monkeypatch.setenv("RESNET_EXPLORER_BUILD_MEMORY_GIB", str(1 / 1024))  # 1 MiB
    (tmp_path / "bomb.pt").write_bytes(BOMB)
    assert main(["summary", "--weights", str(tmp_path / "bomb.pt")]) == 2
    assert capsys.readouterr().err == (
        "error: weights: bomb.pt unpacks to 4.0 MiB (archive/data/0 alone 4.0 MiB); "
        "this server opens at most 1.0 MiB, its build budget\n"
    )
