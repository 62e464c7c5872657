import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config) -> None:
    """Two cores here and two test processes (pytest-xdist, pyproject's addopts): one torch thread each,
    set before any test module imports torch (the servers and workers the tests start inherit it).
    Two threads each, spinning on two cores, made the suite slower than one process."""
    # no training worker started by every app the tests open (the Train tests start their own runs)
    os.environ.setdefault("RESNET_EXPLORER_WARM_UP_WORKERS", "0")
    if hasattr(config, "workerinput"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    elif not config.getoption("numprocesses", None):  # one process (-n 0): it may have both cores
        os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data folder (run history, datasets) for one test."""
    monkeypatch.setenv("RESNET_EXPLORER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def fresh(home):
    """A fresh server process: Streamlit's caches (the job registry, the settings, the broadcast)
    are per process, and AppTest sessions of one test share them as a server's sessions do."""
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def app(fresh):
    """One AppTest session of the app on a fresh server, not run yet."""
    from streamlit.testing.v1 import AppTest

    from tests.apptest import APP

    return AppTest.from_file(APP, default_timeout=60)


# ----- the browser tests' server and Chromium (tests/browser.py) -------------------------------------
@pytest.fixture(scope="module")
def server_home(tmp_path_factory) -> Path:
    """The data folder of the module's `server` (its run history, its checkpoints)."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def server(server_home):
    """The app as one user runs it on a laptop: 127.0.0.1, no lecturer key (that user may do anything)."""
    from tests.browser import serve

    yield from serve(server_home)


@pytest.fixture(scope="module")
def hall_server(tmp_path_factory):
    """The app as a lecture hall has it: a lecturer key is set, so students own only their runs."""
    from tests.browser import serve

    yield from serve(tmp_path_factory.mktemp("hall"), RESNET_EXPLORER_LECTURER_KEY="chalk")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


REPORTED: list[str] = []


def pytest_runtest_logreport(report) -> None:
    """Figures a test records with `record_property("report", line)` (e.g. the timm coverage); xdist
    sends a worker's test reports, properties included, to the process that prints the summary."""
    if report.when == "call":
        REPORTED.extend(str(value) for key, value in report.user_properties if key == "report")


def pytest_terminal_summary(terminalreporter) -> None:
    for line in REPORTED:
        terminalreporter.write_line(line)


# ----- the store's two engines (explorer/store/) -------------------------------------------------
@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for this test process (tests/postgres.py); skipped, saying why,
    only where PostgreSQL is not installed."""
    from tests.postgres import serve

    yield from serve()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, home) -> str:
    """Where a store test keeps its history, on each engine: a SQLite file in a fresh data folder, or
    an empty schema on the test PostgreSQL server (its weights still go to the data folder)."""
    if request.param == "sqlite":
        return str(home / "runs.sqlite")
    return request.getfixturevalue("postgres_server").fresh()
