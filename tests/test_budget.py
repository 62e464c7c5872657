"""Budgets from the plan, settings from the file and the environment, and estimates by arithmetic."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import explorer
from explorer.cli import main
from explorer.hall.budget import BudgetError, check_build, check_design, check_training, limits, training_cost
from explorer.hall.settings import GIB, Settings, SettingsError, load_settings
from explorer.training.estimate import Speed, estimate
from explorer.training.recipe import CPU_RECIPE, D2L_RECIPE, Recipe

HUGE = explorer.spec_from_dict(
    {**explorer.preset("resnet18").to_dict(), "stages": [{"blocks": 500, "channels": 8192, "stride": 1}] * 2}
)


def test_the_seeds_run_costs_what_its_plan_says():
    cost = training_cost(explorer.preset("d2l-resnet18"), D2L_RECIPE)  # 96 px, batch 256, plain SGD
    params = 11_178_378
    assert cost.weights == cost.gradients == params * 4 and cost.optimizer == 0  # SGD keeps no state
    assert cost.activations == cost.plan.activation_elements() * 256 * 4 == 1_222_649_856
    assert cost.batch_input == 256 * 96 * 96 * 4 and cost.batch_pixels == 256 * 96 * 96
    assert cost.dataset == 70_000 * 28 * 28  # Fashion-MNIST's uint8 images, on the device
    assert cost.memory == 1_376_394_064 and cost.estimate is None  # no speed measured here
    adamw = training_cost(explorer.preset("d2l-resnet18"), D2L_RECIPE.but(optimizer="adamw"))
    assert adamw.optimizer == 2 * params * 4  # two moments per parameter


def test_a_huge_network_is_refused_by_name_with_the_setting_that_raises_the_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_EXPLORER_HOME", str(tmp_path))
    lim = limits(Settings(max_params=100_000_000))
    plan = explorer.plan_network(HUGE)
    message = (
        "max_params: its parameter count is 1,207,401,802,024; this server allows at most 100,000,000 "
        f"(raise max_params in {tmp_path / 'settings.toml'} or RESNET_EXPLORER_MAX_PARAMS)"
    )
    for check in (lambda: check_build(plan, lim), lambda: check_design(plan, lim)):
        with pytest.raises(BudgetError) as refused:
            check()
        assert str(refused.value) == message and refused.value.limit == "max_params"
    with pytest.raises(BudgetError, match="^max_params: its parameter count is 1,207,393,684,682"):  # as trained:
        check_training(training_cost(HUGE, CPU_RECIPE), CPU_RECIPE, lim, capped_time=False)  # 1x28x28, 10 classes


def test_each_training_budget_names_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_HOME", str(tmp_path))
    spec, recipe = explorer.preset("resnet50"), CPU_RECIPE.but(resize=224, batch_size=4096, dataset="cifar10")
    cases = [
        (
            Settings(max_gmacs_per_image=1),
            "max_gmacs_per_image: its work per 3x224x224 image is 4.087 GMACs",
        ),  # 10 classes
        (Settings(max_batch_megapixels=100), "max_batch_megapixels: a batch of 4096 3x224x224 images is 616.6"),
        (
            Settings(train_memory_gib=1, max_batch_megapixels=1e4),
            "train_memory_gib: training it at batch 4096 (weights, gradients",
        ),
    ]
    for settings, said in cases:
        with pytest.raises(BudgetError, match="^" + re.escape(said)):
            check_training(training_cost(spec, recipe), recipe, limits(settings), capped_time=False)
    speed = Speed("cpu", 200, 1e-10, 2000, 1e-10, 0.0)  # 10 GMAC/s, whatever the width
    cost = training_cost(spec, recipe.but(batch_size=16, epochs=1), speed)
    with pytest.raises(
        BudgetError,
        match=r"^max_run_minutes: its estimated time here is 2:38:57; this server allows at most 30:00 per student",
    ):
        check_training(cost, recipe.but(batch_size=16, epochs=1), limits(Settings(max_run_minutes=30)), True)
    check_training(cost, recipe.but(batch_size=16, epochs=1), limits(Settings(max_run_minutes=30)), False)


def test_an_estimate_is_arithmetic_on_the_plan():
    speed = Speed("cpu", narrow_k=100, narrow_seconds_per_mac=2e-11, wide_k=1000, wide_seconds_per_mac=1e-11,
                  seconds_per_layer=1e-4)  # fmt: skip
    assert speed.seconds_per_mac(50) == 2e-11 and speed.seconds_per_mac(5000) == 1e-11  # constant beyond
    assert speed.seconds_per_mac(316) == pytest.approx(2e-11 * 0.5**0.5, rel=1e-3)  # log-linear between
    cost = training_cost(explorer.preset("resnet-mini"), CPU_RECIPE, speed)  # 20,000 images, batch 128
    plan, run = cost.plan, cost.estimate
    expected_step = sum(lp.macs * speed.seconds_per_mac(lp.in_shape[0] // lp.groups * lp.kernel**2)
                        for lp in plan.layers if lp.macs) * 128 + len(plan.layers) * 1e-4  # fmt: skip
    assert run.per_image == pytest.approx(expected_step / 128, rel=1e-12)
    assert run.epoch_seconds == pytest.approx(run.per_image * (20_000 + 10_000 / 3))
    assert run.run_seconds() == pytest.approx(5 * run.epoch_seconds)
    assert run.range_test_seconds == pytest.approx(run.per_image * 100 * 128)
    few = estimate(plan, CPU_RECIPE.but(limit=20), speed)
    assert few.range_test_seconds == pytest.approx(few.per_image * 100 * 20)  # a batch holds at most all 20


def test_settings_come_from_the_file_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_HOME", str(tmp_path))
    monkeypatch.delenv("RESNET_EXPLORER_WARM_UP_WORKERS", raising=False)  # the suite's own (conftest)
    assert load_settings() == Settings()
    (tmp_path / "settings.toml").write_text('lecturer_key = "chalk"\nruns_per_person = 3\ntrain_memory_gib = 8\n')
    monkeypatch.setenv("RESNET_EXPLORER_RUNS_PER_PERSON", "5")
    s = load_settings()
    assert (s.lecturer_key, s.runs_per_person, s.train_memory_gib) == ("chalk", 5, 8.0)
    assert limits(s).train_bytes == 8 * GIB and limits(s).runs_per_person == 5
    monkeypatch.setenv("RESNET_EXPLORER_QUEUE_SIZE", "many")
    with pytest.raises(SettingsError, match="^queue_size: 'many' in RESNET_EXPLORER_QUEUE_SIZE is not a whole number"):
        load_settings()
    monkeypatch.delenv("RESNET_EXPLORER_QUEUE_SIZE")
    (tmp_path / "settings.toml").write_text("runs_per_sesion = 3\n")
    with pytest.raises(SettingsError, match=r"^runs_per_sesion: unknown setting in .*settings.toml; known: "):
        load_settings()
    (tmp_path / "settings.toml").write_text("runs_per_session = 3\n")  # its name before issue 22
    with pytest.raises(SettingsError, match=r"^runs_per_session: in .*settings.toml is now called runs_per_person "):
        load_settings()
    (tmp_path / "settings.toml").write_text("queue_size = 0\n")
    with pytest.raises(SettingsError, match=r"^queue_size: 0 in .*settings.toml is out of range; allowed 1..100000"):
        load_settings()


def test_defaults_follow_the_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_HOME", str(tmp_path))
    from explorer.hall.settings import disk_bytes, ram_bytes

    lim = limits(Settings())
    assert lim.build_bytes == ram_bytes() // 10 and lim.max_params == lim.build_bytes // 4
    assert lim.train_bytes == ram_bytes() // 2 and lim.worker_bytes == ram_bytes() * 3 // 4
    assert lim.checkpoint_bytes == min(20 * GIB, disk_bytes(tmp_path) // 5)
    assert (lim.runs_per_person, lim.queue_size, lim.run_seconds) == (2, 50, 1800)


def test_the_train_command_refuses_a_huge_network_in_one_line_without_building_it(tmp_path, capsys):
    config = tmp_path / "huge.json"
    config.write_text(HUGE.to_json())
    train = ["train", "--config", str(config), "--dataset", "digits", "--no-store"]
    root = Path(__file__).resolve().parents[1]
    peak = (  # the command, reporting its own peak memory as it exits: VmHWM, as ru_maxrss starts
        # from the RSS of the forked parent (pytest) and so measures the test run, not the command
        "import atexit, re, sys; from explorer.cli.main import main; "
        "hwm = lambda: re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1); "
        "atexit.register(lambda: print('peak', hwm(), file=sys.stderr)); "
        "sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run([sys.executable, "-c", peak, *train], capture_output=True, text=True, timeout=120, cwd=root)
    said, measured = proc.stderr.split("peak ")
    assert proc.returncode == 2 and proc.stdout == ""
    as_trained = training_cost(HUGE, Recipe(dataset="digits")).plan.params  # 1x8x8 in, 10 classes
    assert said.startswith(f"error: max_params: its parameter count is {as_trained:,};")
    assert said.count("\n") == 1 and "Traceback" not in said
    # one 8192x8192x3x3 weight alone would take 2.4 GB: the command builds nothing (torch loaded: ~0.5 GB)
    assert int(measured) < 1_500_000, proc.stderr
    assert main(["summary", "--config", str(config), "--json"]) == 0  # arithmetic
    assert json.loads(capsys.readouterr().out)["total_params"] == 1_207_401_802_024
