"""What a run says about itself while it goes: the status line names the phase it is really in and
its speed against the estimate's; the ETA counts the steps and tests left at their measured cost;
the estimate covers step budgets and runs that share the workers."""

import dataclasses

import pytest

import explorer
from explorer.training.estimate import Estimate, queue_seconds
from explorer.training.events import StepEvent
from explorer.training.jobs import JobSnapshot
from explorer.training.recipe import Recipe
from explorer.training.status import slower_by, status_line
from explorer.training.timing import Pace
from explorer.training.train import train

from .events import start


def snapshot(status="running", steps=(), epochs=(), started=True, expected=None, eta=30.0) -> JobSnapshot:
    begun = dataclasses.replace(start(explorer.preset("resnet-mini")), epochs=5, steps_per_epoch=23)
    return JobSnapshot(
        7, "resnet-mini", None, "cpu", None, status, 2 if status == "queued" else 0, "test accuracy 0.9",
        0.3, 12.0, eta, begun if started else None, list(steps), list(epochs), [], expected,
    )  # fmt: skip


def step(number: int, epoch: int, images_per_sec: float = 8000.0) -> dict:
    return {"step": number, "epoch": epoch, "images_per_sec": images_per_sec, "progress": number / 115}


@pytest.mark.parametrize(
    "snap, said",
    [
        (snapshot("queued"), "Queued on cpu: position 2, it starts when a worker is free."),
        (snapshot(started=False), "Starting on cpu: loading the data and building the network."),
        (snapshot(), "Training on cpu: the first steps."),
        (snapshot(steps=[step(10, 1)]), "Training on cpu: epoch 1 of 5, 8,000 images/s, about 30 s left."),
        (snapshot(steps=[step(23, 1)]), "Testing on 360 images after epoch 1 of 5, about 30 s left."),
        (snapshot(steps=[step(23, 1)], epochs=[{"epoch": 1}]), "Training on cpu: epoch 1 of 5, 8,000 images/s, "
                                                               "about 30 s left."),
        (snapshot("completed"), "Completed: test accuracy 0.9"),
    ],
)  # fmt: skip
def test_the_status_line_names_the_phase(snap, said):
    assert status_line(snap) == said


def test_a_run_slower_than_its_estimate_says_why():
    on_time = snapshot(steps=[step(10, 1, 8000.0)], expected=1 / 9000)
    assert slower_by(on_time) is None and "slower" not in status_line(on_time)
    watched = snapshot(steps=[step(10, 1, 2000.0)], expected=1 / 8000)  # the page and its browser on its cores
    assert slower_by(watched) == pytest.approx(4.0)
    assert status_line(watched).endswith(
        "That is 4.0x slower than this machine was measured to train it: other work shares its cores "
        "(this page and its browser, other runs)."
    )


def test_the_eta_counts_what_is_left_at_its_measured_cost():
    pace = Pace(steps_total=100, evaluations_total=5, test_images=300)
    assert pace.eta() is None  # nothing measured yet
    pace.train_seconds, pace.steps, pace.images = 10.0, 20, 2000
    assert pace.eta() == pytest.approx(80 * 0.5 + 5 * 300 / 3 * 10.0 / 2000)  # tests priced as a third of an image
    pace.eval_seconds, pace.evaluations = 2.0, 1
    assert pace.eta() == pytest.approx(80 * 0.5 + 4 * 2.0)  # then at the measured test's time


def test_the_eta_of_a_real_run_falls_and_never_climbs_with_its_setup():
    events = []
    recipe = Recipe(dataset="digits", epochs=2, batch_size=64, limit=320, optimizer="momentum", log_every=2)
    train(explorer.preset("resnet-mini"), recipe, events.append)
    etas = [e.eta for e in events if isinstance(e, StepEvent)]
    assert etas[-1] < etas[0] and all(eta >= 0 for eta in etas)


def test_a_step_budget_is_estimated_with_its_tests():
    est = Estimate(per_image=0.001, train_images=1000, test_images=300, batch_size=100, epochs=50, steps=25)
    assert est.run_seconds() == pytest.approx(0.001 * (25 * 100 + 3 * 300 / 3))  # 25 steps: 3 epochs begun, 3 tests
    assert Estimate(0.001, 1000, 300, 100, 2).run_seconds() == pytest.approx(2 * 0.001 * (1000 + 100))


def test_runs_queued_on_two_workers():
    assert queue_seconds([60, 60, 20, 20], 2) == 80  # the deep pair side by side, then the shallow pair
    assert queue_seconds([60, 60, 20, 20], 1) == 160
    assert queue_seconds([], 2) == 0


def test_finished_runs_correct_the_probes_speed(tmp_path):
    """A busy moment at the probe, or costs beyond it, skew every estimate: each finished run's
    measured time per image against the probe's prediction corrects the next (the median of five)."""
    from explorer.hall.settings import Settings
    from explorer.training.events import EpochEvent
    from explorer.training.jobs import Job, JobRegistry
    from explorer.training.runs import RunStore
    from explorer.training.train import RunResult

    jobs = JobRegistry(RunStore(tmp_path / "runs.sqlite"), settings=Settings())
    assert jobs.calibration_factor("cpu") == 1.0
    for ratio in (2.0, 3.0, 2.5):
        run_id = jobs.store.create("r", MINI.to_json(), Recipe(dataset="digits").to_json())
        job = Job(run_id, "r", MINI, Recipe(dataset="digits"), "cpu", None, "lecturer")
        job.expected_per_image, job.calibration = 0.001, 1.0
        job.on_event(EpochEvent(1, 1.0, 0.5, 1.0, 0.5, images_per_sec=1 / (0.001 * ratio), elapsed=1.0, eta=None))
        jobs._settle(job, RunResult("completed", "ok"))
    assert jobs.calibration_factor("cpu") == pytest.approx(2.5)


MINI = explorer.preset("resnet-mini")


def test_a_challenge_entry_is_estimated_by_its_steps():
    from explorer.hall.budget import training_cost
    from explorer.hall.challenge import Challenge
    from explorer.training.estimate import Speed

    recipe = Challenge(1, "t", "fashion-mnist", 100_000, 300, 0.0, None).recipe
    speed = Speed("cpu", 200, 1e-10, 2000, 1e-10, 1e-4)
    est = training_cost(MINI, recipe, speed).estimate
    assert est.steps == 300 and est.run_seconds() == pytest.approx(est.per_image * (300 * 128 + 10_000 / 3))
