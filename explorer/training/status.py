"""What a run is doing, in one line, read off its snapshot: waiting, loading, training (at what speed,
against what this machine was measured to do), testing, or how it ended."""

from __future__ import annotations

from .. import fmt
from .job import JobSnapshot

SLOW = 1.5  # a run this many times slower than the estimate's speed says why


def _testing(snap: JobSnapshot) -> int | None:
    """The epoch whose test pass runs now: its last step was taken, its epoch event not yet sent."""
    if snap.start is None or not snap.steps:
        return None
    last = snap.steps[-1]
    at_end = last["step"] % snap.start.steps_per_epoch == 0 or last["progress"] >= 1
    return last["epoch"] if at_end and len(snap.epochs) < last["epoch"] else None


def slower_by(snap: JobSnapshot) -> float | None:
    """How many times slower than its estimate the run trains now, when it is more than SLOW."""
    if snap.expected_per_image is None or not snap.steps or snap.start is None or snap.start.range_test:
        return None
    live = snap.steps[-1]["images_per_sec"]
    factor = live and 1 / (snap.expected_per_image * live)
    return factor if factor and factor > SLOW else None


def status_line(snap: JobSnapshot) -> str:
    """One sentence for the run's present state (its progress bar says how far)."""
    if snap.status == "queued":
        return f"Queued on {snap.device}: position {snap.position}, it starts when a worker is free."
    if snap.status != "running":
        return f"{snap.status.capitalize()}: {snap.message}"
    if snap.start is None:
        return f"Starting on {snap.device}: loading the data and building the network."
    device, eta = snap.start.device, f", about {fmt.duration(snap.eta)} left" if snap.eta is not None else ""
    if not snap.steps:
        return f"Training on {device}: the first steps."
    if snap.start.range_test:
        return f"Range-testing on {device}{eta}."
    if (epoch := _testing(snap)) is not None:
        return f"Testing on {snap.start.test_size:,} images after epoch {epoch} of {snap.start.epochs}{eta}."
    last = snap.steps[-1]
    said = (
        f"Training on {device}: epoch {last['epoch']} of {snap.start.epochs}, "
        f"{last['images_per_sec']:,.0f} images/s{eta}."
    )
    if factor := slower_by(snap):
        said += (
            f" That is {factor:.1f}x slower than this machine was measured to train it: other work shares "
            "its cores (this page and its browser, other runs)."
        )
    return said
