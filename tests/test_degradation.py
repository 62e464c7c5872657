"""The degradation experiment (He et al. 2016, Fig. 1): its verdict read off the final training losses in
either direction, the recorded full-size run shipped with the app, and the page's words against its
charts for a finished live experiment and for the recorded run."""

import time

import pytest

from explorer.inspect.degradation import RECORDED_FILE, degradation_verdict, final_losses, recorded_run
from explorer.inspect.teaching import CPU_DEGRADATION, degradation_runs
from explorer.training.events import EpochEvent, StartEvent
from explorer.training.runs import RunStore

from .apptest import figure, open_app


@pytest.mark.parametrize(
    "final, said",
    [
        ({"plain-20": 0.404, "plain-56": 1.0436, "resnet-20": 0.2282, "resnet-56": 0.1784},
         "**Plain: degradation.** plain-56 ends with a higher training loss than plain-20 (1.044 against 0.404): the "
         "deeper plain network trains worse. **Residual: no degradation.** resnet-56 ends with a lower training "
         "loss than resnet-20 (0.178 against 0.228): the deeper residual network trains at least as well."),
        ({"plain-20": 0.5, "plain-56": 0.3, "resnet-20": 0.443, "resnet-56": 0.482},
         "**Plain: no degradation here.** plain-56 ends with a lower training loss than plain-20 (0.300 against "
         "0.500). **Residual: the deeper one is behind here.** resnet-56 ends with a higher training loss than "
         "resnet-20 (0.482 against 0.443)."),
        ({"resnet-20": 0.25, "resnet-56": 0.2504},  # equal as printed: the words compare what is printed
         "**Residual: no degradation.** resnet-56 ends with the same training loss as resnet-20 (0.250 against "
         "0.250): the deeper residual network trains at least as well."),
        ({"plain-20": 0.5}, ""),  # a pair not finished: nothing said about it
    ],
)  # fmt: skip
def test_the_verdict_follows_the_printed_losses_either_way(final, said):
    assert degradation_verdict(final, (20, 56)) == said


def test_the_recorded_run_says_how_where_and_when_and_shows_both_halves():
    run = recorded_run()
    assert run is not None and RECORDED_FILE.name == "degradation_recorded.json"
    assert run.command.startswith("python -m benchmarks.degradation") and run.device and run.date
    assert sorted(run.epochs) == ["plain-20", "plain-56", "resnet-20", "resnet-56"]
    final = run.final
    assert final["plain-56"] > final["plain-20"] and final["resnet-56"] <= final["resnet-20"]


def _stored_experiment(store: RunStore, losses: dict[str, list[float]]) -> str:
    """Four finished runs of the page's experiment, as the registry would have stored them."""
    name = f"degradation {time.strftime('%Y-%m-%d %H:%M:%S')}"
    for run_name, spec, recipe in degradation_runs(CPU_DEGRADATION):
        run_id = store.create(run_name, spec.to_json(), recipe.to_json(), name)
        store.record_event(run_id, StartEvent("cpu", 1, 1, spec.to_dict(), {}, [], {}, 4000, 2000, 32, 8, False, False))
        for epoch, loss in enumerate(losses[run_name], start=1):
            store.record_event(run_id, EpochEvent(epoch, loss, 0.5, loss, 0.5, 1000.0, 1.0, None))
        store.set_status(run_id, "completed")
    return name


def test_the_page_says_what_its_live_and_recorded_charts_show(fresh):
    losses = {"plain-20": [1.5, 0.404], "plain-56": [2.2, 1.044], "resnet-20": [1.9, 0.228], "resnet-56": [2.0, 0.178]}
    _stored_experiment(RunStore(), losses)
    at = open_app(page="app_pages/why_residuals.py")
    assert not at.exception
    live = {t["name"]: t["y"] for t in figure(at, "Training loss (live)")["data"]}
    recorded = {t["name"]: t["y"] for t in figure(at, "Training loss (recorded)")["data"]}
    said = [m.value for m in at.markdown if m.value.startswith("**Plain:")]
    assert said == [
        degradation_verdict({name: ys[-1] for name, ys in live.items()}, (20, 56)),
        degradation_verdict({name: ys[-1] for name, ys in recorded.items()}, (20, 56)),
    ]
    assert said[0].startswith("**Plain: degradation.** plain-56 ends with a higher training loss than plain-20 "
                              "(1.044 against 0.404)")  # fmt: skip
    run = recorded_run()
    assert any(run.command in c.value and run.device in c.value and "Recorded on" in c.value for c in at.caption)


def test_final_losses_leave_out_runs_without_an_epoch():
    assert final_losses({"a": [{"train_loss": 2.0}, {"train_loss": 1.0}], "b": []}) == {"a": 1.0}
