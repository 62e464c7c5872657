"""`python -m explorer train`: JSON lines, exit status, the run record; torchrun with gloo."""

import json
import os
import re
import subprocess
import sys

import pytest

import explorer
from explorer.cli import main
from explorer.training.runs import RunStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def explorer_cli(*args, env_extra=None, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )


def test_jsonl_events_and_stored_run(tmp_path):
    db = tmp_path / "runs.sqlite"
    proc = explorer_cli(
        "train", "--preset", "resnet-mini", "--dataset", "digits", "--epochs", "2", "--lr", "0.1",
        "--optimizer", "momentum", "--schedule", "onecycle", "--jsonl", "--db", str(db),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0]["event"] == "start" and events[-1] == {**events[-1], "event": "done", "status": "completed"}
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    for key in ("epoch", "train_loss", "train_acc", "test_acc", "images_per_sec"):
        assert isinstance(epochs[-1][key], int | float)
    run = RunStore(db).list()[0]
    assert run.status == "completed" and len(RunStore(db).epochs(run.id)) == 2


def test_a_range_test_from_the_command_line(tmp_path):
    db = tmp_path / "runs.sqlite"
    proc = explorer_cli(
        "train", "--preset", "resnet-mini", "--dataset", "digits", "--schedule", "range-test",
        "--batch-size", "64", "--optimizer", "momentum", "--db", str(db),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert re.search(
        r"completed: range test over \d+ steps: loss falls fastest at lr [\d.e-]+ "
        r"and is lowest at [\d.e-]+; suggested lr",
        proc.stdout,
    )
    assert "weights:" not in proc.stdout  # none kept: they are no trained network
    run = RunStore(db).list()[0]
    assert run.recipe["schedule"] == "range-test" and len(RunStore(db).steps(run.id)) >= 10


def test_plain_output_says_where_the_run_and_its_weights_are(tmp_path):
    db = tmp_path / "runs.sqlite"
    proc = explorer_cli("train", "--preset", "resnet-mini", "--dataset", "digits", "--epochs", "1", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("completed: test accuracy")
    weights = tmp_path / "checkpoints" / "run-1.pt"
    assert proc.stderr.splitlines()[-2:] == [
        f"stored as run 1 in {db}",
        f"weights: {weights} (torch.load(..., weights_only=True))",
    ]
    assert weights.exists()


def test_diverged_run_exits_non_zero(tmp_path):
    # resnet-mini without BN: at lr 10 its loss overflows within 5 steps for every seed tried (0-5);
    # a one-stage network instead died (all ReLUs off, a finite loss) for half of them
    config = tmp_path / "no-bn.json"
    config.write_text(json.dumps({**explorer.preset("resnet-mini").to_dict(), "batch_norm": False}))
    proc = explorer_cli(
        "train", "--config", str(config), "--dataset", "digits", "--lr", "10", "--optimizer", "momentum",
        "--epochs", "3", "--jsonl", "--no-store",
    )  # fmt: skip
    assert proc.returncode == 1
    done = json.loads(proc.stdout.splitlines()[-1])
    assert done["status"] == "diverged" and "lower the learning rate" in done["message"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
        (["--dataset", "digits", "--lr", "-1"], "lr: -1 is out of range"),
        (["--dataset", "digits", "--epochs", "0"], "epochs: 0 is out of range; allowed 1..1000"),
        (["--dataset", "digits", "--resize", "99999"], "resize: 99999 is out of range"),
        (["--dataset", "digits", "--batch-size", "x"], "invalid int value: 'x'"),
    ],
)
def test_bad_training_input_exits_2(args, words, capsys):
    """In this process (each is refused before anything trains); a real process's exit status and
    stderr are test_cli's."""
    assert main(["train", "--preset", "resnet-mini", *args, "--no-store"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1


def test_torchrun_two_processes_with_gloo(tmp_path):
    """PyTorch's DistributedDataParallel on the CPU: two ranks, each a shard; rank 0 reports. (torchrun is
    `python -m torch.distributed.run`; --standalone picks a free port, so two suites may run at once.)"""
    db = tmp_path / "runs.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "explorer",
         "train", "--preset", "resnet-mini", "--dataset", "digits", "--epochs", "2", "--batch-size", "32", "--lr",
         "0.1", "--optimizer", "momentum", "--jsonl", "--db", str(db)],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 1 and starts[0]["world_size"] == 2  # only rank 0 printed
    assert starts[0]["steps_per_epoch"] == -(-(1437 // 2) // 32)  # each rank: half the data
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 2 and epochs[-1]["test_acc"] > 0.5
    runs = RunStore(db).list()
    assert len(runs) == 1 and runs[0].status == "completed"  # only rank 0 wrote the record


def test_every_recipe_option_reaches_the_recipe():
    from explorer.cli.main import build_parser
    from explorer.cli.train import _recipe

    args = build_parser().parse_args(
        ["train", "--preset", "d2l-resnet18", "--dataset", "mnist", "--resize", "64", "--augment", "--compile",
         "--schedule", "onecycle", "--label-smoothing", "0.1", "--precision", "fp32"]
    )  # fmt: skip
    recipe, _ = _recipe(args)
    assert (recipe.dataset, recipe.resize, recipe.augment, recipe.compile) == ("mnist", 64, True, True)
    assert (recipe.schedule, recipe.label_smoothing, recipe.precision, recipe.init) == (
        "onecycle",
        0.1,
        "fp32",
        "xavier",
    )
    plain, _ = _recipe(build_parser().parse_args(["train", "--preset", "resnet-mini", "--dataset", "digits"]))
    assert plain.compile is False and plain.init == "torchvision"


def test_options_left_out_take_the_presets_suggested_recipe():
    from explorer.cli.main import build_parser
    from explorer.cli.train import _recipe, describe
    from explorer.training.recipe import CIFAR_RECIPE, CPU_RECIPE, D2L_RECIPE, Recipe

    def recipe_of(*argv):
        return _recipe(build_parser().parse_args(["train", *argv]))

    seed, source = recipe_of("--preset", "d2l-resnet18", "--dataset", "fashion-mnist")
    assert seed == D2L_RECIPE and source == "suggested for d2l-resnet18"  # d2l's recipe, 96 px included
    assert describe(seed) == "sgd, lr 0.05 constant, batch 256, 10 epochs, 96 px, all images"
    mini, _ = recipe_of("--preset", "resnet-mini", "--dataset", "digits", "--limit", "0", "--lr", "0.2")
    assert mini == CPU_RECIPE.but(dataset="digits", limit=None, lr=0.2)  # 0: all the images
    cifar, _ = recipe_of("--preset", "resnet20", "--dataset", "cifar10", "--no-augment", "--resize", "0")
    assert cifar == CIFAR_RECIPE.but(augment=False, resize=None)
    assert describe(CIFAR_RECIPE).endswith("30 epochs, native size, all images, augmented")
    assert recipe_of("--config", "net.json", "--dataset", "mnist") == (Recipe(dataset="mnist"), "defaults")
    ranged, _ = recipe_of("--preset", "resnet-mini", "--dataset", "digits", "--schedule", "range-test")
    assert describe(ranged) == "momentum, batch 128, native size, at most 20,000 images"  # no lr or epochs
