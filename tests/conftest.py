import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Two cores here: one torch thread per test process keeps the browser tests' server responsive.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data folder (run history, datasets) for one test."""
    monkeypatch.setenv("RESNET_EXPLORER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def pytest_terminal_summary(terminalreporter) -> None:
    """Figures tests report (e.g. the timm coverage), shown in CI's output."""
    from tests.report import LINES

    for line in LINES:
        terminalreporter.write_line(line)
