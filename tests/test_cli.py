"""`python -m explorer`: output, and bad input as exit status 2 with one line (never a traceback)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer import PRESETS
from explorer.cli import main

from . import events


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_lists_every_name(capsys):
    code, out, _ = run(capsys, "presets")
    assert code == 0
    for name in PRESETS:
        assert name in out
    assert "11,178,378" in out


def test_summary_table(capsys):
    code, out, _ = run(capsys, "summary", "--preset", "d2l-resnet18")
    assert code == 0
    assert "Total params:      11,178,378" in out
    assert "layer2.0.downsample.0" in out
    assert "(10,)" in out


def test_summary_json_with_overrides(capsys):
    code, out, _ = run(capsys, "summary", "--preset", "resnet50", "--input", "1,64,64", "--classes", "7", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["output_shape"] == [7]
    assert data["spec"]["input"] == {"channels": 1, "height": 64, "width": 64}
    assert [s["name"] for s in data["stages"]] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert data["stages"][-2]["output_shape"] == [2048, 2, 2]
    assert data["layers"][0]["name"] == "conv1"
    assert data["total_params"] == sum(s["params"] for s in data["stages"])


def test_summary_from_config(capsys, tmp_path):
    path = tmp_path / "net.json"
    path.write_text(PRESETS["resnet20"].to_json())
    code, out, _ = run(capsys, "summary", "--config", str(path), "--json")
    assert code == 0 and json.loads(out)["total_params"] == 269_722


def test_code_command(capsys):
    code, out, _ = run(capsys, "code", "--preset", "resnet-mini")
    assert code == 0 and "class Residual(nn.Module)" in out and "net = nn.Sequential(" in out


BAD_ARGS = [
    (["summary", "--preset", "resnet51"], "unknown preset 'resnet51'"),
    (["summary"], "one of the arguments --preset --config --weights is required"),
    (["summary", "--preset", "resnet18", "--config", "x.json"], "not allowed with argument"),
    (["summary", "--preset", "resnet18", "--input", "3,224"], "--input: expected C,H,W"),
    (["summary", "--preset", "resnet18", "--input", "3,0,224"], "input.height: 0 is out of range; allowed 1..4096"),
    (["summary", "--preset", "resnet18", "--classes", "0"], "num_classes: 0 is out of range"),
    (["summary", "--preset", "resnet18", "--classes", "ten"], "invalid int value: 'ten'"),
    (["summary", "--config", "/nonexistent/net.json"], "cannot read config /nonexistent/net.json"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required: command"),
]


@pytest.mark.parametrize(("argv", "words"), BAD_ARGS, ids=[" ".join(a) or "empty" for a, _ in BAD_ARGS])
def test_bad_input_exits_2_with_one_line(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert words in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"stages": [{"blocks": 2, "chanels": 64, "stride": 1}]}', "stages[0].chanels: unknown key"),
        ("not json", "invalid JSON at line 1"),
        ('{"num_classes": NaN}', "NaN is not a number"),
        ('{"shortcut": "identity"}', "F(x) + x is impossible"),
    ],
)
def test_bad_config_files(capsys, tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = run(capsys, "summary", "--config", str(path))
    assert code == 2 and words in err and err.count("\n") == 1


def test_huge_config_is_refused_before_reading(capsys, tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 2_000_000)
    code, _, err = run(capsys, "summary", "--config", str(path))
    assert code == 2 and "at most 100,000" in err


def test_real_process_exit_status_and_stderr():
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "summary", "--preset", "nope"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: preset: unknown preset 'nope'") and proc.stderr.count("\n") == 1
    assert proc.stdout == ""


def test_the_console_script_is_installed_and_speaks_the_same_commands():
    """`pip install -e .` installs `resnet-explorer`, the same command line as `python -m explorer`."""
    script = Path(sys.executable).with_name("resnet-explorer")
    usage = subprocess.run([script, "--help"], capture_output=True, text=True).stdout
    assert usage.startswith("usage: resnet-explorer") and "serve" in usage


def test_serve_runs_the_app_with_streamlits_own_options(tmp_path):
    """`resnet-explorer serve --server.port P`: the checkout's app.py, answering on that port."""
    from tests.browser import free_port, stop, wait_healthy

    port = free_port()
    script = Path(sys.executable).with_name("resnet-explorer")
    env = {**os.environ, "RESNET_EXPLORER_HOME": str(tmp_path)}
    options = [f"--server.port={port}", "--server.headless=true", "--browser.gatherUsageStats=false"]
    proc = subprocess.Popen([script, "serve", *options], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)  # run from another folder: it finds app.py and its config
    finally:
        stop(proc)


@pytest.fixture
def history(tmp_path):
    """A run history with one finished run of two epochs and one queued run."""
    from explorer.training.recipe import Recipe
    from explorer.training.runs import RunStore

    store = RunStore(tmp_path / "runs.sqlite")
    mini = PRESETS["resnet-mini"]
    done = store.create("resnet-mini", mini.to_json(), Recipe(dataset="digits", epochs=2, compile=True).to_json())
    store.record_event(done, events.start(mini))
    for epoch, acc in ((1, 0.5), (2, 0.75)):
        store.record_event(done, events.epoch(epoch, acc))
    store.set_status(done, "completed", "test accuracy 0.7500 after 2 epochs")
    store.create("queued one", mini.to_json(), Recipe(dataset="mnist").to_json())
    return store


def test_runs_lists_the_history(capsys, history):
    code, out, _ = run(capsys, "runs", "--db", history.where)
    header, queued, done = out.splitlines()
    assert code == 0 and header.split()[:3] == ["id", "started", "name"]
    assert done.split()[0] == "1" and "resnet-mini" in done and "completed" in done and "0.7500" in done
    assert done.endswith("cpu, compiled") and "queued" in queued and "mnist" in queued
    code, out, _ = run(capsys, "runs", "--db", history.where, "--json", "--limit", "1")
    (line,) = out.splitlines()
    assert json.loads(line)["name"] == "queued one"


def test_runs_prints_epochs_as_csv(capsys, history):
    code, out, _ = run(capsys, "runs", "--db", history.where, "--csv", "1", "2")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("run,name,epoch,train_loss")
    assert [line.split(",")[:3] for line in lines[1:]] == [["1", "resnet-mini", "1"], ["1", "resnet-mini", "2"]]


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["--csv", "9"], "csv: no run 9 in"), (["--limit", "0"], "limit: 0 is out of range"), (["--db"], "expected")],
)
def test_runs_bad_input_exits_2(capsys, history, argv, words):
    db = [] if argv == ["--db"] else ["--db", history.where]
    code, _, err = run(capsys, "runs", *db, *argv)
    assert code == 2 and words in err and err.count("\n") == 1


def test_runs_of_a_missing_history(capsys, tmp_path):
    code, _, err = run(capsys, "runs", "--db", str(tmp_path / "none.sqlite"))
    assert code == 2 and "db: no run history at" in err
