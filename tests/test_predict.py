"""A trained run on new images: the stored network reproduces its test accuracy, and pictures are
made to look like the dataset's images."""

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import explorer
from explorer.inspect.predict import Predictor, image_as_dataset_item, looks_inverted
from explorer.training.data import DATASETS, load_dataset
from explorer.training.recipe import Recipe
from explorer.training.runs import RunStore
from explorer.training.train import train


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return tmp_path_factory.mktemp("home") / "runs.sqlite"


@pytest.fixture(scope="module")
def stored_run(history):
    """resnet-mini trained on the digits in float32 at 16 px, as the run history keeps it."""
    db = history
    store = RunStore(db)
    spec = explorer.preset("resnet-mini")
    recipe = Recipe(dataset="digits", epochs=2, batch_size=64, lr=0.1, optimizer="momentum", resize=16)
    recipe = recipe.but(precision="fp32")  # the predictor runs in float32
    run_id = store.create("mini", spec.to_json(), recipe.to_json())
    store.finish(run_id, train(spec, recipe, lambda e: store.record_event(run_id, e), data=load_dataset("digits")))
    return RunStore(db).get(run_id)


@pytest.fixture
def drawing(tmp_path) -> Image.Image:
    """A "1" in dark ink on white paper, wider than high."""
    paper = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(paper).rectangle((140, 20, 160, 180), fill="black")
    paper.save(tmp_path / "one.png")
    return paper


def predictor_of(run) -> Predictor:
    return Predictor.from_run(run)


def test_a_stored_run_predicts_its_recorded_test_accuracy(stored_run):
    digits = load_dataset("digits")
    probabilities = predictor_of(stored_run).probabilities(digits.x_test)
    assert probabilities.shape == (360, 10)
    assert torch.allclose(probabilities.sum(1), torch.ones(360), atol=1e-5)
    correct = int((probabilities.argmax(1) == digits.y_test).sum())
    assert correct == round(stored_run.test_acc * 360) and stored_run.test_acc > 0.5


def test_a_test_image_as_a_picture_comes_back_unchanged(stored_run):
    digits = load_dataset("digits")
    picture = Image.fromarray(digits.x_test[7, 0].numpy())  # 8x8 grey, light on dark
    assert not looks_inverted(picture, DATASETS["digits"])
    item = image_as_dataset_item(picture, DATASETS["digits"], invert=False)
    assert torch.equal(item, digits.x_test[7:8])
    predictor = predictor_of(stored_run)
    assert torch.equal(predictor.probabilities(item), predictor.probabilities(digits.x_test[7:8]))


def test_a_stored_run_shows_its_stage_maps_and_trained_filters(stored_run):
    digits = load_dataset("digits")
    predictor = predictor_of(stored_run)
    maps = predictor.stage_maps(digits.x_test[:1])  # an 8x8 digit, seen at the run's 16 px
    assert [(m.name, m.shape) for m in maps] == [
        ("stem", (16, 16, 16)),
        ("layer1", (16, 16, 16)),
        ("layer2", (32, 8, 8)),
        ("layer3", (64, 4, 4)),
    ]
    logits = predictor.model.fc(maps[-1].maps.mean(dim=(1, 2)))
    torch.testing.assert_close(torch.softmax(logits, 0), predictor.probabilities(digits.x_test[:1])[0])
    said = int(predictor.probabilities(digits.x_test[:1]).argmax())
    cam = predictor.grad_cam(digits.x_test[:1], said)  # where it found the class it names
    assert cam.shape == (4, 4) and cam.max() == 1.0 and cam.min() >= 0.0
    stored = torch.load(stored_run.weights, weights_only=True)
    assert torch.equal(predictor.first_filters(), stored["conv1.weight"])  # trained, not initial


def test_a_drawing_on_paper_is_inverted_and_shrunk_to_the_datasets_images(drawing):
    paper = drawing  # wider than high: the centre square is kept
    digits = DATASETS["digits"]
    assert looks_inverted(paper, digits)
    item = image_as_dataset_item(paper, digits, invert=True)
    assert item.shape == (1, 1, 8, 8) and item.dtype == torch.uint8
    pixels = item[0, 0].numpy().astype(int)
    assert pixels[:, 3:5].mean() > 100 and pixels[:, :2].max() < 10 and pixels[:, 6:].max() < 10  # a light stroke
    cifar = DATASETS["cifar10"]
    assert not looks_inverted(paper, cifar)  # photos are not negatives
    assert image_as_dataset_item(paper, cifar, invert=False).shape == (1, 3, 32, 32)
    assert np.asarray(image_as_dataset_item(paper, cifar, invert=False))[0, :, 0, 0].tolist() == [255, 255, 255]


def test_the_command_line_predicts_with_a_stored_run(history, stored_run, drawing, tmp_path, capsys):
    from explorer.cli.main import main

    db, picture = str(history), tmp_path / "one.png"
    assert main(["predict", str(stored_run.id), str(picture), "--db", db, "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{picture}: ") and line.endswith("[inverted]") and line.count("%)") == 2
    assert main(["predict", str(stored_run.id), str(picture), "--db", db, "--json", "--invert", "no"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["inverted"] is False and len(answer["probabilities"]) == 10
    assert answer["predicted"] == max(answer["probabilities"], key=answer["probabilities"].get)
    (tmp_path / "notes.png").write_text("not a picture")
    for argv, message in [
        (["predict", "999", str(picture), "--db", db], "error: run: no run 999 in the history"),
        (["predict", str(stored_run.id), str(tmp_path / "notes.png"), "--db", db], "error: images: cannot read"),
        (["predict", str(stored_run.id), str(picture), "--db", db, "--top", "0"], "error: top: 0 is out of range"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1


def test_two_sessions_use_one_predictor_at_once(stored_run):
    """Try it caches one predictor per run for every session; Grad-CAM hangs hooks on its model.
    Two threads at once raised "not used in the graph" 2 times in 300 before the predictor locked."""
    import threading

    predictor = predictor_of(stored_run)
    images = load_dataset("digits").x_test[:8]
    expected = [predictor.grad_cam(images[i : i + 1], 3) for i in range(8)]
    errors, maps = [], {}

    def session(offset: int) -> None:
        try:
            for n in range(150):
                i = (n + offset) % 8
                maps[(offset, n)] = (i, predictor.grad_cam(images[i : i + 1], 3))
                predictor.probabilities(images[i : i + 1])
        except Exception as exc:  # collected: an assert in a thread would pass silently
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(k,)) for k in (0, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(maps) == 300
    assert all(torch.equal(cam, expected[i]) for i, cam in maps.values())


def test_pictures_are_checked_by_their_header_before_they_are_decoded(tmp_path, monkeypatch):
    """A 684 KB PNG of 13000x13000 pixels takes 2 GB and 13 s to decode: its header is read and it is
    refused before any decoding. A text file named .png gets a sentence, not a repr."""
    import io
    import resource

    from explorer.inspect.predict import PictureError, open_picture

    bomb = io.BytesIO()
    Image.new("L", (13000, 13000)).save(bomb, "PNG")  # zeros compress to under a megabyte
    assert len(bomb.getvalue()) < 1_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with monkeypatch.context() as m:
        m.setattr(Image.Image, "load", lambda self: pytest.fail("the picture was decoded"))
        with pytest.raises(PictureError, match=r"^it is 13,000 x 13,000 pixels \(169 megapixels\); pictures may"):
            open_picture(io.BytesIO(bomb.getvalue()))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing decoded
    with pytest.raises(PictureError, match=r"^it is not a picture in a format this app reads \(PNG, JPEG, WebP"):
        open_picture(io.BytesIO(b"not a picture, whatever its name says"))
    pdf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(pdf, "PDF")  # a format Pillow writes but the app does not take
    with pytest.raises(PictureError, match="not a picture in a format this app reads"):
        open_picture(io.BytesIO(pdf.getvalue()))
    whole = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(whole, "PNG")
    with pytest.raises(PictureError, match="^it is a PNG file, but a broken one"):
        open_picture(io.BytesIO(whole.getvalue()[: len(whole.getvalue()) // 2]))  # the data cut short
    with pytest.raises(PictureError, match="^it starts like a picture, but its header is broken or cut short"):
        open_picture(io.BytesIO(whole.getvalue()[:20]))
    for kind in ("PNG", "JPEG", "WEBP", "BMP", "GIF"):
        ok = io.BytesIO()
        Image.new("RGB", (30, 20), "white").save(ok, kind)
        assert open_picture(io.BytesIO(ok.getvalue())).size == (30, 20)
