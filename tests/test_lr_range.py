"""The learning-rate range test: its schedule, the reading of its curve, and a test run."""

import math

import pytest
import torch

import explorer
from explorer.training.data import load_dataset
from explorer.training.events import EpochEvent, StepEvent, as_dict
from explorer.training.lr_range import (
    RANGE_END,
    RANGE_START,
    RANGE_STEPS,
    centred,
    exploded,
    range_curve,
    range_lr,
    smoothed,
)
from explorer.training.recipe import RANGE_TEST, Recipe, RecipeError
from explorer.training.steps import make_schedule as _schedule
from explorer.training.train import Trainer

MINI = explorer.preset("resnet-mini")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_the_learning_rate_grows_geometrically_from_start_to_end():
    assert range_lr(1) == pytest.approx(RANGE_START) and range_lr(RANGE_STEPS) == pytest.approx(RANGE_END)
    ratios = {round(range_lr(s + 1) / range_lr(s), 12) for s in range(1, RANGE_STEPS)}
    assert len(ratios) == 1 and ratios.pop() == pytest.approx((RANGE_END / RANGE_START) ** (1 / 99))


def test_smoothing_is_bias_corrected_and_explosions_are_seen():
    assert smoothed([2.0] * 5) == pytest.approx([2.0] * 5)  # no pull towards zero at the start
    assert smoothed([1.0, 3.0])[1] == pytest.approx((0.09 * 1 + 0.1 * 3) / (1 - 0.81))
    assert centred([0.0, 6.0, 0.0]) == [2.0, 2.0, 2.0] and len(centred(list(range(30)))) == 30
    assert centred([float(i) for i in range(30)])[15] == 15.0  # no lag in the middle
    assert not exploded([2.0, 1.0, 3.9]) and exploded([2.0, 1.0, 4.1]) and exploded([1.0, math.inf])


def test_the_curve_finds_the_lowest_loss_and_the_steepest_fall_before_it():
    # a loss falling until lr 0.1, then climbing fast: lowest at 0.1 (steps 66 and 67 straddle it)
    steps = [{"step": s, "loss": 1 + (math.log10(range_lr(s)) + 1) ** 2} for s in range(1, 101)]
    curve = range_curve(steps)
    assert 0.08 <= curve.lowest_lr <= 0.12 and curve.suggested_lr < curve.lowest_lr
    # a step down centred on lr 0.01, then a climb from lr 0.3: falls fastest at 0.01, lowest before 0.3
    cliff = [
        {
            "step": s,
            "loss": 2
            - math.tanh(2 * (math.log10(range_lr(s)) + 2))
            + 10 * max(0.0, math.log10(range_lr(s)) + 0.5) ** 2,
        }
        for s in range(1, 101)
    ]
    curve = range_curve(cliff)
    assert 0.008 <= curve.suggested_lr <= 0.0125 and 0.05 <= curve.lowest_lr <= 0.35
    assert curve.lrs[0] == pytest.approx(RANGE_START) and len(curve.losses) == len(curve.smoothed) == 100
    assert curve.lowest_loss == min(curve.smoothed)
    assert range_curve(steps[:9]) is None  # too few to read
    with_nan = steps[:50] + [{"step": 51, "loss": math.nan}]
    assert len(range_curve(with_nan).losses) == 50  # a non-finite step is the end, not a point


def test_a_range_test_run_follows_the_schedule_and_suggests_a_learning_rate(digits):
    events, lrs = [], {}
    recipe = Recipe(dataset="digits", batch_size=64, optimizer="momentum", schedule=RANGE_TEST, epochs=1)

    def on_event(event):
        events.append(event)
        if isinstance(event, StepEvent):  # after step s the schedule has moved on to step s + 1's lr
            lrs[event.step] = float(trainer.opt.param_groups[0]["lr"])

    trainer = Trainer(MINI, recipe, on_event, data=digits)
    result = trainer.run()
    assert result.status == "completed" and "suggested lr" in result.message
    steps = [e.step for e in events if isinstance(e, StepEvent)]
    assert steps == list(range(1, len(steps) + 1)) and 10 <= len(steps) <= RANGE_STEPS  # every step logged
    assert len(steps) > 22  # more than one epoch of the digits at batch 64: it went on into the next
    assert all(lrs[s] == pytest.approx(range_lr(s + 1)) for s in steps[:-1])
    assert not [e for e in events if isinstance(e, EpochEvent)]  # no evaluation
    assert result.state_dict is None and result.epochs == []  # its weights are no trained network
    curve = range_curve([as_dict(e) for e in events if isinstance(e, StepEvent)])
    assert f"suggested lr {curve.suggested_lr:.3g}" in result.message


def test_a_blow_up_ends_the_test_as_completed_not_diverged(digits):
    recipe = Recipe(dataset="digits", batch_size=64, optimizer="adamw", schedule=RANGE_TEST)
    events = []
    result = Trainer(MINI, recipe, events.append, data=digits).run()
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert result.status == "completed" and len(steps) < RANGE_STEPS  # adamw at lr ~1 and more explodes


def test_the_schedule_is_validated_with_the_range_test_among_the_choices():
    assert Recipe(schedule=RANGE_TEST).schedule == RANGE_TEST
    with pytest.raises(RecipeError, match="schedule.*range-test"):
        Recipe(schedule="linear")


def test_the_schedule_writes_into_a_tensor_learning_rate():
    """On CUDA each step replays a graph that reads the lr from a device tensor: the schedule must
    write into that tensor, not replace it (explorer/training/steps.py)."""
    weight = torch.nn.Parameter(torch.zeros(1))
    lr = torch.tensor(0.05)
    opt = torch.optim.SGD([weight], lr=lr)
    schedule = _schedule(opt, Recipe(schedule=RANGE_TEST, lr=0.05), total_steps=RANGE_STEPS)
    for step in range(1, RANGE_STEPS + 1):
        assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(range_lr(step), rel=1e-6)
        weight.grad = torch.ones(1)
        opt.step()
        schedule.step()


def test_a_stopped_range_test_keeps_no_weights(digits):
    recipe = Recipe(dataset="digits", batch_size=64, schedule=RANGE_TEST)
    trainer = Trainer(
        MINI, recipe, lambda e: isinstance(e, StepEvent) and e.step == 5 and trainer.stop.set(), data=digits
    )
    result = trainer.run()
    assert result.status == "stopped" and result.state_dict is None
