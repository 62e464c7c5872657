"""Inside training, per stage: the numbers a watched step gives, against the optimizer's own
arithmetic, and their way through the trainer and the run store."""

import pytest
import torch

from explorer import build_model, preset
from explorer.training.events import StepEvent
from explorer.training.recipe import Recipe
from explorer.training.runs import RunStore
from explorer.training.stage_stats import StageStats, StageWatch, stage_of
from explorer.training.train import train


def test_parameters_fall_into_the_stages_by_module_name():
    assert [stage_of(n) for n in ("conv1.weight", "layer3.1.bn2.bias", "fc.bias", "bn1.weight")] == [
        "stem",
        "layer3",
        "head",
        "stem",
    ]


def test_a_plain_sgd_step_moves_each_stage_by_lr_times_its_gradient():
    """Without momentum or weight decay an SGD step is -lr x gradient: the update's norm is
    lr x the gradient's, exactly what the watch must report against the weights it had."""
    torch.manual_seed(0)
    spec = preset("resnet-mini")
    model = build_model(spec).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    watch = StageWatch(model)
    assert [stage for stage, _ in watch.groups] == ["stem", "layer1", "layer2", "layer3", "head"]
    before = {stage: torch.cat([p.detach().flatten() for p in params]).norm() for stage, params in watch.groups}
    x, y = (
        torch.randn(8, spec.input.channels, spec.input.height, spec.input.width, dtype=torch.float64),
        torch.arange(8) % 10,
    )
    watch.before()
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    stats = watch.after()
    for row, (stage, params) in zip(stats, watch.groups, strict=True):
        grad = torch.cat([p.grad.flatten() for p in params]).norm()
        assert row.stage == stage
        assert row.grad_norm == pytest.approx(float(grad), rel=1e-6)
        assert row.update_ratio == pytest.approx(0.1 * float(grad) / float(before[stage]), rel=1e-5)
        assert row.weight_norm == pytest.approx(float(torch.cat([p.detach().flatten() for p in params]).norm()))


def test_the_trainer_reports_stages_at_logging_steps_and_the_store_keeps_them(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    spec, recipe = preset("resnet-mini"), Recipe(dataset="digits", epochs=1, batch_size=64, log_every=5, limit=640)
    run_id = store.create("mini", spec.to_json(), recipe.to_json(), None)
    events = []

    def keep(event):
        events.append(event)
        store.record_event(run_id, event)

    assert train(spec, recipe, keep).status == "completed"
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == [5, 10]  # every 5th step and the epoch's last (10 of 64)
    assert all(tuple(s.stage for s in e.stages) == ("stem", "layer1", "layer2", "layer3", "head") for e in steps)
    assert all(
        isinstance(s, StageStats) and s.grad_norm > 0 and 0 < s.update_ratio < 1 for e in steps for s in e.stages
    )
    stored = store.steps(run_id)
    assert [row["step"] for row in stored] == [5, 10]
    assert stored[0]["stages"] == [
        {"stage": s.stage, "grad_norm": s.grad_norm, "weight_norm": s.weight_norm, "update_ratio": s.update_ratio}
        for s in steps[0].stages
    ]
