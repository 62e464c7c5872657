"""Typed training events for tests that write a run history by hand."""

from explorer.training.events import EpochEvent, StartEvent, StepEvent


def start(spec, params=77754, device="cpu", normalize=None) -> StartEvent:
    return StartEvent(
        device=device,
        world_size=1,
        params=params,
        spec=spec.to_dict(),
        recipe={},
        adapted=[],
        normalize=normalize or {"mean": [0.5], "std": [0.25]},
        train_size=1437,
        test_size=360,
        steps_per_epoch=23,
        epochs=1,
        cuda_graph=False,
        compiled=False,
    )


def epoch(number: int, test_acc: float, value: float = 1.0, **fields) -> EpochEvent:
    base = dict.fromkeys(("train_loss", "train_acc", "test_loss", "images_per_sec", "elapsed"), value)
    return EpochEvent(epoch=number, test_acc=test_acc, eta=None, **(base | fields))


def step(number: int, loss: float, epoch: int = 1) -> StepEvent:
    return StepEvent(step=number, epoch=epoch, loss=loss, images_per_sec=900.0, progress=0.5, elapsed=0.5, eta=1.0)
