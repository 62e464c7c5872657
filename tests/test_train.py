"""The training engine on the CPU with tiny data: learning, stopping, divergence, OOM, events."""

import dataclasses
import math
import threading

import pytest
import torch

import explorer
from explorer.arch.model import build_model, init_weights
from explorer.training.data import load_dataset
from explorer.training.events import DoneEvent, EpochEvent, InfoEvent, StartEvent, StepEvent
from explorer.training.recipe import Recipe, RecipeError, adapt_spec
from explorer.training.train import Trainer, train

from .idx import write_idx

MINI = explorer.preset("resnet-mini")
QUICK = Recipe(dataset="digits", epochs=5, batch_size=64, lr=0.1, optimizer="momentum", schedule="onecycle")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def collect(events):
    return lambda event: events.append(event)


def of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_resnet_mini_learns_digits(digits):
    events = []
    result = train(MINI, QUICK, collect(events), data=digits)
    assert result.status == "completed"
    epochs = of(events, EpochEvent)
    assert len(epochs) == 5 and [e.epoch for e in epochs] == [1, 2, 3, 4, 5]
    assert epochs[-1].train_loss < epochs[0].train_loss / 2  # the loss goes down
    assert epochs[-1].test_acc >= 0.90
    assert isinstance(events[0], StartEvent) and isinstance(events[-1], DoneEvent)
    assert events[-1].status == "completed" and events[0].params == 77754 and events[0].steps_per_epoch == 23
    steps = of(events, StepEvent)
    assert steps and all(0 < s.progress <= 1 and s.images_per_sec > 0 for s in steps)
    assert [s.step for s in steps] == [23, 25, 46, 50, 69, 75, 92, 100, 115]  # every 25th and each epoch's end
    assert result.confusion is not None and sum(map(sum, result.confusion)) == len(digits.y_test)
    assert 0 < len(result.misclassified) <= 32
    miss = result.misclassified[0]
    assert miss["true"] != miss["pred"] and miss["image"].shape == (1, 8, 8)
    net = explorer.build_model(result.spec)
    net.load_state_dict(result.state_dict)


def test_same_seed_same_run_while_another_thread_draws_random_numbers(digits):
    """A run's seed drives its own generator: the global one, which every session shares, may be
    drawn from meanwhile (before, the global generator was seeded and the model built later)."""
    recipe = QUICK.but(epochs=1)
    alone = train(MINI, recipe, data=digits)
    drawing, done = threading.Event(), threading.Event()

    def draw():
        while not done.is_set():
            torch.rand(100)
            drawing.set()

    thread = threading.Thread(target=draw)
    thread.start()
    drawing.wait(5)
    try:
        disturbed = train(MINI, recipe, data=digits)
    finally:
        done.set()
        thread.join()
    assert alone.epochs[0].train_loss == disturbed.epochs[0].train_loss
    assert all(torch.equal(alone.state_dict[k], disturbed.state_dict[k]) for k in alone.state_dict)


def test_the_seed_alone_decides_the_initial_weights():
    first, second = build_model(MINI), build_model(MINI)
    for net in (first, second):
        torch.rand(7)  # whatever the global generator did before
        init_weights(net, "torchvision", torch.Generator().manual_seed(3))
    assert all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )
    other = build_model(MINI)
    init_weights(other, "torchvision", torch.Generator().manual_seed(4))
    assert not torch.equal(other.conv1.weight, first.conv1.weight)


def test_spec_is_adapted_to_the_dataset_and_said_so():
    spec, notes = adapt_spec(explorer.preset("resnet50"), explorer.training.data.DATASETS["digits"], 28)
    assert (spec.input.channels, spec.input.height, spec.num_classes) == (1, 28, 10)
    assert any("3x224x224 -> 1x28x28" in n and "first conv adapted" in n for n in notes)
    assert any("1000 -> 10 classes" in n for n in notes)


def test_stop_flag_ends_the_run_within_one_step(digits):
    stop, events = threading.Event(), []

    def on_event(event):
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 3:
            stop.set()

    result = train(MINI, QUICK.but(log_every=1), on_event, stop, data=digits)
    assert result.status == "stopped"
    assert max(e.step for e in of(events, StepEvent)) == 3
    assert result.message == "stopped at step 3"
    explorer.build_model(result.spec).load_state_dict(result.state_dict)  # what it learned so far is kept
    assert isinstance(events[-1], DoneEvent) and events[-1].status == "stopped"


def test_a_time_budget_stops_training_at_a_logging_step_and_tests(digits):
    """A challenge's seconds of training: the run stops at the first loss reading past them,
    completes, and is tested; the message says so."""
    events = []
    result = train(MINI, QUICK.but(epochs=1000, log_every=5, time_limit=1.0), collect(events), data=digits)
    assert result.status == "completed" and "(the time budget: 1 s of training, " in result.message
    steps, epochs = of(events, StepEvent), of(events, EpochEvent)
    assert len(epochs) < 1000 and epochs[-1].test_acc > 0.1  # tested after the last, partial epoch
    last = steps[-1].step
    assert result.message.endswith(f"{last} steps)") and (last % 5 == 0 or last % 23 == 0)
    assert steps[-1].elapsed >= 1.0
    with pytest.raises(RecipeError, match="time_limit"):
        QUICK.but(time_limit=0.5)


def test_a_step_budget_trains_exactly_that_many_steps_then_tests(digits):
    """A challenge's budget: the same steps for every entry whatever the clock says; the schedule
    spans them, and the run is tested after the last, partial epoch."""
    events = []
    result = train(MINI, QUICK.but(epochs=1, steps=30, log_every=7, test_limit=100), collect(events), data=digits)
    assert result.status == "completed" and result.message.endswith("(the step budget: 30 steps of 64)")
    begun, steps, epochs = of(events, StartEvent)[0], of(events, StepEvent), of(events, EpochEvent)
    assert begun.epochs == 2 and begun.steps_per_epoch == 23 and begun.test_size == 100  # 1,437 images of 64
    assert [s.step for s in steps] == [7, 14, 21, 23, 28, 30] and len(epochs) == 2
    with pytest.raises(RecipeError, match="steps"):
        QUICK.but(steps=0)


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

    monkeypatch.setattr(explorer.arch.model.ResNet, "forward", exhausted)
    events = []
    trainer = Trainer(MINI, QUICK, collect(events), data=digits)
    result = trainer.run()
    assert result.status == "failed"
    assert "out of memory" in result.message and "smaller batch size or input size" in result.message
    assert trainer.model is None and trainer.opt is None
    assert events[-1].status == "failed"


def test_trains_through_torchvision_on_idx_files(tmp_path):
    write_idx(tmp_path, train=200, test=50)
    recipe = Recipe(dataset="fashion-mnist", epochs=3, batch_size=50, lr=0.1, optimizer="momentum", resize=16)
    result = train(MINI, recipe, data_dir=tmp_path)
    assert result.status == "completed" and result.spec.input.height == 16
    assert result.epochs[-1].test_acc > 0.5  # ten classes, a learnable bar


def test_bad_recipe_values_name_the_field():
    with pytest.raises(RecipeError, match=r"^lr: 0 is out of range; allowed \(0, 10\]"):
        Recipe(lr=0)
    with pytest.raises(RecipeError, match="^dataset: unknown value 'imagenet'"):
        Recipe(dataset="imagenet")
    with pytest.raises(RecipeError, match="^batch_size: expected an integer"):
        Recipe(batch_size=32.5)
    with pytest.raises(RecipeError, match="^resize: 4 is out of range"):
        Recipe(resize=4)


def test_compiled_run_learns_like_the_eager_one(digits):
    # torch.compile'd steps (Inductor) compute the same training function: the first epoch's loss
    # agrees with the eager run's to float32 rounding, and the run is recorded as compiled
    import torch._dynamo

    torch._dynamo.reset()
    recipe = QUICK.but(epochs=1, precision="fp32", log_every=1, schedule="constant")
    events, eager_events = [], []
    # one stage of one block: Inductor's cold compile of resnet-mini took 43-53 s of the suite's time here
    small = dataclasses.replace(MINI, stages=MINI.stages[:1])
    compiled = train(small, recipe.but(compile=True), collect(events), data=digits)
    eager = train(small, recipe, collect(eager_events), data=digits)
    assert compiled.status == "completed"
    assert of(events, StartEvent)[0].compiled is True
    assert any("compiling" in e.message for e in of(events, InfoEvent))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it really went through Dynamo
    compiled_losses = [e.loss for e in of(events, StepEvent)][:15]
    eager_losses = [e.loss for e in of(eager_events, StepEvent)][:15]
    # the first step: the same weights and batch, so the same loss up to the order of float32 sums
    assert compiled_losses[0] == pytest.approx(eager_losses[0], rel=1e-5)
    # fifteen steps on, SGD has amplified those roundings: measured 0.02% to 1.5% apart over seeds 0-2
    assert compiled_losses[-1] == pytest.approx(eager_losses[-1], rel=0.03)
    assert compiled_losses[-1] < compiled_losses[0]
    assert list(compiled.state_dict) == list(eager.state_dict)  # no _orig_mod. prefixes in checkpoints


def test_compile_without_a_compiler_fails_in_one_line(digits, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)  # a laptop with no C++ compiler
    events = []
    result = train(MINI, QUICK.but(epochs=1, compile=True, device="cpu"), collect(events), data=digits)
    assert result.status == "failed"
    assert result.message.startswith("compile: torch.compile needs a C++ compiler") and "turn it off" in result.message
    assert isinstance(events[-1], DoneEvent) and events[-1].status == "failed"


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 8])
def test_a_one_cycle_of_very_few_steps_trains(steps):
    """OneCycleLR divided by zero when its warm-up ended at step 0 (4 steps, a quarter each)."""
    from explorer.training.steps import make_schedule

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    schedule = make_schedule(opt, QUICK.but(lr=0.1), steps)
    for _ in range(steps):
        opt.step()
        if schedule is not None:
            schedule.step()
    assert all(math.isfinite(group["lr"]) for group in opt.param_groups)
