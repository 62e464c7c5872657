"""The training engine on the CPU with tiny data: learning, stopping, divergence, OOM, events."""

import dataclasses
import threading

import pytest
import torch

import explorer
from explorer.data import load_dataset
from explorer.estimate import estimate, estimate_epoch_seconds
from explorer.recipe import Recipe, RecipeError
from explorer.train import Trainer, adapt_spec, train

from .idx import write_idx

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=5, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def collect(events):
    return lambda event: events.append(event)


def test_resnet_mini_learns_digits(digits):
    events = []
    result = train(MINI, QUICK, collect(events), data=digits)
    assert result.status == "completed"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 5
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] / 2  # the loss goes down
    assert epochs[-1]["test_acc"] >= 0.90
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "done"
    assert events[-1]["status"] == "completed"
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "images_per_sec", "elapsed", "eta"):
        assert key in epochs[-1]
    steps = [e for e in events if e["event"] == "step"]
    assert steps and all(0 < s["progress"] <= 1 and s["images_per_sec"] > 0 for s in steps)
    assert result.confusion is not None and sum(map(sum, result.confusion)) == len(digits.y_test)
    assert 0 < len(result.misclassified) <= 32
    miss = result.misclassified[0]
    assert miss["true"] != miss["pred"] and miss["image"].shape == (1, 8, 8)
    net = explorer.build_model(result.spec)
    net.load_state_dict(result.state_dict)


def test_same_seed_same_run(digits):
    recipe = QUICK.but(epochs=1)
    a, b = train(MINI, recipe, data=digits), train(MINI, recipe, data=digits)
    assert a.epochs[0]["train_loss"] == b.epochs[0]["train_loss"]


def test_a_cpu_run_leaves_denormals_to_the_code_after_it(digits):
    """The run flushes denormals while it trains (speed), and gives the thread back as it found it."""
    tiny = torch.tensor([1e-20])
    assert (tiny * tiny).item() > 0  # 1e-40: a float32 denormal
    train(MINI, QUICK.but(epochs=1), data=digits)
    assert (tiny * tiny).item() > 0


def test_spec_is_adapted_to_the_dataset_and_said_so():
    spec, notes = adapt_spec(explorer.preset("resnet50"), explorer.data.DATASETS["digits"], 28)
    assert (spec.input.channels, spec.input.height, spec.num_classes) == (1, 28, 10)
    assert any("3x224x224 -> 1x28x28" in n and "first conv adapted" in n for n in notes)
    assert any("1000 -> 10 classes" in n for n in notes)


def test_stop_flag_ends_the_run_within_one_step(digits):
    stop, events = threading.Event(), []

    def on_event(event):
        events.append(event)
        if event["event"] == "step" and event["step"] == 3:
            stop.set()

    result = train(MINI, QUICK.but(log_every=1), on_event, stop, data=digits)
    assert result.status == "stopped"
    assert max(e["step"] for e in events if e["event"] == "step") == 3
    assert result.message == "stopped at step 3"
    explorer.build_model(result.spec).load_state_dict(result.state_dict)  # what it learned so far is kept
    assert events[-1] == {**events[-1], "event": "done", "status": "stopped"}


def test_non_finite_loss_is_diverged_with_step_and_hint(digits):
    spec = dataclasses.replace(MINI, batch_norm=False)
    result = train(spec, QUICK.but(lr=10.0, schedule="constant", log_every=50), data=digits)
    assert result.status == "diverged"
    assert "non-finite at step" in result.message and "lower the learning rate" in result.message
    step = int(result.message.split("step ")[1].split(" ")[0])
    assert 1 <= step < 50  # the exact step, though the host only looked at step 23 (end of epoch 1)


def test_out_of_memory_fails_cleanly_and_frees(digits, monkeypatch):
    def exhausted(self, x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(explorer.model.ResNet, "forward", exhausted)
    events = []
    trainer = Trainer(MINI, QUICK, collect(events), data=digits)
    result = trainer.run()
    assert result.status == "failed"
    assert "out of memory" in result.message and "smaller batch size or input size" in result.message
    assert trainer.model is None and trainer.opt is None
    assert events[-1]["status"] == "failed"


def test_trains_through_torchvision_on_idx_files(tmp_path):
    write_idx(tmp_path, train=200, test=50)
    recipe = Recipe(dataset="fashion-mnist", epochs=3, batch_size=50, lr=0.1, optimizer="momentum", resize=16)
    result = train(MINI, recipe, data_dir=tmp_path)
    assert result.status == "completed" and result.spec.input.height == 16
    assert result.epochs[-1]["test_acc"] > 0.5  # ten classes, a learnable bar


def test_bad_recipe_values_name_the_field():
    with pytest.raises(RecipeError, match=r"^lr: 0 is out of range; allowed \(0, 10\]"):
        Recipe(lr=0)
    with pytest.raises(RecipeError, match="^dataset: unknown value 'imagenet'"):
        Recipe(dataset="imagenet")
    with pytest.raises(RecipeError, match="^batch_size: expected an integer"):
        Recipe(batch_size=32.5)
    with pytest.raises(RecipeError, match="^resize: 4 is out of range"):
        Recipe(resize=4)


def test_epoch_estimate_is_positive_and_scales():
    small = estimate_epoch_seconds(MINI, QUICK)
    assert 0 < small < 60
    assert estimate_epoch_seconds(MINI, QUICK.but(limit=20)) < small


def test_a_range_test_is_estimated_as_its_hundred_steps():
    timed = estimate(MINI, QUICK)  # the digits: 1,437 training images, batch 64
    assert timed.range_test_seconds == pytest.approx(timed.per_image * 100 * 64)
    assert timed.epoch_seconds == pytest.approx(timed.per_image * (1437 + 360 / 3))
    few = estimate(MINI, QUICK.but(limit=20))
    assert few.range_test_seconds == pytest.approx(few.per_image * 100 * 20)  # a batch holds at most all 20


def test_compiled_run_learns_like_the_eager_one(digits):
    # torch.compile'd steps (Inductor) compute the same training function: the first epoch's loss
    # agrees with the eager run's to float32 rounding, and the run is recorded as compiled
    import torch._dynamo

    torch._dynamo.reset()
    recipe = QUICK.but(epochs=1, precision="fp32", log_every=5, schedule="constant")
    events, eager_events = [], []
    compiled = train(MINI, recipe.but(compile=True), collect(events), data=digits)
    eager = train(MINI, recipe, collect(eager_events), data=digits)
    assert compiled.status == "completed"
    assert next(e for e in events if e["event"] == "start")["compiled"] is True
    assert any(e["event"] == "info" and "compiling" in e["message"] for e in events)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it really went through Dynamo
    compiled_losses = [e["loss"] for e in events if e["event"] == "step"][:3]
    eager_losses = [e["loss"] for e in eager_events if e["event"] == "step"][:3]
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-3)  # the same 15 steps, same batches
    assert compiled_losses[-1] < compiled_losses[0]
    assert list(compiled.state_dict) == list(eager.state_dict)  # no _orig_mod. prefixes in checkpoints


def test_compile_without_a_compiler_fails_in_one_line(digits, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)  # a laptop with no C++ compiler
    events = []
    result = train(MINI, QUICK.but(epochs=1, compile=True, device="cpu"), collect(events), data=digits)
    assert result.status == "failed"
    assert result.message.startswith("compile: torch.compile needs a C++ compiler") and "turn it off" in result.message
    assert events[-1]["event"] == "done" and events[-1]["status"] == "failed"
