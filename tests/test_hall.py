"""A server a class shares, through AppTest: links that ask for too much or for nothing buildable,
runs that belong to their session, quotas, and a run history that cannot be opened."""

import os

import pytest
from streamlit.testing.v1 import AppTest

from explorer.training.slots import resident_bytes

from .apptest import APP, diagrams, open_app, shown
from .waits import SETTLE_SECONDS, wait_until

HUGE = {"preset": "resnet18", "stages": "500x8192s1,500x8192s1"}  # about 1.2e12 parameters
PAGES = ["app_pages/design.py", "app_pages/train.py", "app_pages/compare.py", "app_pages/why_residuals.py"]


def texts(at, kind: str) -> list[str]:
    """The elements' text as a reader sees it (names and messages are escaped Markdown: ui.text)."""
    return [shown(e.value) for e in getattr(at, kind)]


def test_a_link_to_a_huge_network_is_arithmetic_on_every_page(fresh):
    before = resident_bytes(os.getpid())
    at = open_app(HUGE)
    assert not at.exception
    params = next(m.value for m in at.metric if m.label == "Parameters")
    assert params.startswith("1,20") and len(params) == len("1,207,959,552,010")  # the numbers, still shown
    warning = next(w for w in texts(at, "warning") if w.startswith("**Too large to build or train on this server**"))
    assert "max_params: its parameter count is 1,20" in warning and "RESNET_EXPLORER_MAX_PARAMS" in warning
    at.radio(key="d_view").set_value("Import / export").run()
    at.button(key="d_torchinfo").click().run()
    assert any(e.startswith("Not built here: max_params:") for e in texts(at, "error"))
    at.switch_page("app_pages/train.py").run()
    assert not at.exception and any(
        e.startswith("Not trainable on this server as set: max_params") for e in texts(at, "error")
    )
    at.button(key="t_start").click().run()
    assert any(e.startswith("Not started: max_params: its parameter count is 1,20") for e in texts(at, "error"))
    assert "t_job" not in at.session_state
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert any("is too large to build or train on this server" in w for w in texts(at, "warning"))
    at.switch_page("app_pages/why_residuals.py").run()
    assert not at.exception
    assert resident_bytes(os.getpid()) - before < 300 * 2**20  # nothing of it was built (it would be 4.5 TB)


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"shortcut": "identity"}, "layer2.0"),
        ({"shortcut": "A", "stages": "2x64s1,2x32s2"}, "layer2.0"),
    ],
)
def test_a_link_to_an_unbuildable_network_shows_the_tutor_and_keeps_working(fresh, params, where):
    at = open_app({"preset": "d2l-resnet18", **params})
    assert not at.exception
    assert any(f"F(x) + x does not fit in block {where}" in e for e in texts(at, "error"))
    assert next(m.value for m in at.metric if m.label == "Parameters") == "11,178,378"  # the preset meanwhile
    assert diagrams(at)  # and its diagram
    at.button(key="d_fix").click().run()  # the tutor's fix makes it a network
    assert not at.error
    for page in PAGES[1:]:  # a session that starts on another page hears why it sees the preset
        other = AppTest.from_file(APP, default_timeout=60)
        for key, value in {"preset": "d2l-resnet18", **params}.items():
            other.query_params[key] = value
        other.switch_page(page).run()
        assert not other.exception, page
        if page != "app_pages/why_residuals.py":  # the only page that shows no design
            said = texts(other, "warning")[0]
            assert said.startswith("The link's network could not be used (") and "F(x) + x is impossible" in said
            assert said.endswith("Showing d2l-resnet18 instead.")


@pytest.mark.parametrize(
    ("job", "said"),
    [
        ("1" + "0" * 30, "Ignoring ?job='1000000000000000000000000000000': not a run number."),
        ("abc", "Ignoring ?job='abc': not a run number."),
        ("999", "There is no run 999 here: it was deleted, or it belongs to another server."),
    ],
)
def test_a_job_link_that_is_not_a_run_here_says_so(fresh, job, said):
    at = open_app({"job": job}, "app_pages/train.py")
    assert not at.exception and said in texts(at, "warning")
    at.run()  # and keeps working (an overflow kept raising in every later run of the session)
    assert not at.exception and "job" not in at.query_params


def test_a_broken_run_history_stops_training_not_the_other_pages(fresh, home):
    home.mkdir(parents=True)
    (home / "runs.sqlite").write_bytes(b"not a database" * 200)
    at = open_app()
    assert not at.exception and next(m.value for m in at.metric if m.label == "Parameters") == "11,178,378"
    at.switch_page("app_pages/train.py").run()
    error = texts(at, "error")[0]
    assert error.startswith(f"The run history {home / 'runs.sqlite'} cannot be used (file is not a database)")
    assert f"move it aside (mv {home / 'runs.sqlite'} {home / 'runs.sqlite'}.broken) and reload" in error
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and not at.error
    at.switch_page("app_pages/why_residuals.py").run()
    assert not at.exception and len(texts(at, "error")) == 1  # said once, in the experiments' tab


def test_an_unreachable_store_server_stops_training_and_names_the_setting(fresh, home, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_STORE_URL", f"postgresql://explorer:secret@/runs?host={home}/no-server")
    at = open_app(page="app_pages/challenge.py")
    assert not at.exception and len(at.error) == 1
    error = texts(at, "error")[0]
    assert error.startswith(f"The run history at postgresql://explorer@/runs?host={home}/no-server cannot be reached")
    assert "RESNET_EXPLORER_STORE_URL, then reload. Training and the run history are unavailable" in error


def start_digits_run(at: AppTest, epochs: int = 60) -> int:
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="t_network").set_value("resnet-mini").run()
    at.selectbox(key="t_dataset").set_value("digits")
    at.number_input(key="t_epochs").set_value(epochs)
    at.button(key="t_start").click().run()
    assert not at.exception
    assert "t_job" in at.session_state  # started and followed
    return at.session_state["t_job"]


def test_runs_belong_to_their_session_and_the_lecturer_may_do_anything(fresh, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_LECTURER_KEY", "chalk")
    from ui.training import registry

    alice = open_app()
    job = start_digits_run(alice)
    key = alice.query_params["key"]
    assert alice.query_params["job"] == str(job) and len(key) >= 16  # the reattach link carries the key
    assert alice.button(key="t_stop")  # hers to stop
    bob = open_app({"job": str(job)}, "app_pages/train.py")  # the link without the key: read-only
    assert not bob.exception and not [b for b in bob.button if b.key == "t_stop"]
    assert any(c.value == "Another person's run: shown read-only." for c in bob.caption)
    carol = open_app({"job": str(job), "key": "guess" * 4}, "app_pages/train.py")
    assert not [b for b in carol.button if b.key == "t_stop"]
    again = open_app({"job": str(job), "key": key}, "app_pages/train.py")  # alice reloading her link
    assert again.button(key="t_stop")
    lecturer = open_app({"job": str(job)}, "app_pages/train.py")
    assert [e.label for e in bob.expander if "queued or running" in e.label] == []  # not his to see
    lecturer.text_input(key="lecturer_key_typed").set_value("chalk").run()
    assert lecturer.session_state["lecturer_ok"] and lecturer.button(key="t_stop")
    assert [e.label for e in lecturer.expander if "queued or running" in e.label] == [
        "Server queue: 1 queued or running"
    ]
    assert [e.label for e in alice.expander if "queued or running" in e.label] == ["Your runs: 1 queued or running"]
    lecturer.button(key="t_stop").click().run()
    assert registry().wait(job, SETTLE_SECONDS) and registry().snapshot(job).status == "stopped"


def test_a_person_may_have_two_runs_and_is_told_why_not_more(fresh, monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_LECTURER_KEY", "chalk")
    from ui.training import registry

    jobs_of = lambda: len(registry().store.list())  # noqa: E731
    student = open_app()
    first = start_digits_run(student)
    student.switch_page("app_pages/why_residuals.py").run()
    student.selectbox(key="w_rt_data").set_value("digits")
    student.button(key="w_rt_start").click().run()  # two range tests: one too many beside the run
    refusal = next(e for e in texts(student, "error") if e.startswith("Not started: runs_per_person"))
    assert "you have 1 run(s) queued or running, in all your tabs, and asked for 2 more; each person may have 2" in (
        refusal
    )
    assert jobs_of() == 1  # none of the experiment's runs was queued
    registry().stop(first, lecturer=True)
    assert registry().wait(first, SETTLE_SECONDS)
    student.button(key="w_rt_start").click().run()
    assert not student.error and jobs_of() == 3  # both now
    student.switch_page("app_pages/train.py").run()
    student.button(key="t_start").click().run()
    refusal = next(e for e in texts(student, "error") if e.startswith("Not started: runs_per_person"))
    assert "you have 2 run(s) queued or running, in all your tabs, and asked for another" in refusal and jobs_of() == 3
    for snap in registry().active():
        registry().stop(snap.id, lecturer=True)
    assert wait_until(lambda: not registry().active(), poll=0.1)


def test_the_history_says_which_runs_weights_went_to_keep_the_disk_budget(tmp_path):
    import torch

    from explorer.training.runs import RunStore
    from explorer.training.train import RunResult
    from ui.training import history_frame

    store = RunStore(tmp_path / "runs.sqlite")
    for name in ("old", "new"):
        run_id = store.create(name, "{}", "{}")
        store.finish(run_id, RunResult("completed", "done", state_dict={"w": torch.zeros(1000)}), 8_000)
    frame = history_frame(store.list())
    assert list(frame["name"]) == ["new", "old"] and list(frame["weights"]) == ["", "removed"]
    assert "weights" not in history_frame(store.list()[:1])  # no column while nothing was removed


def test_a_run_that_failed_before_training_draws_no_empty_charts(fresh, home):
    from explorer.training.recipe import Recipe
    from explorer.training.runs import RunStore
    from explorer.training.train import RunResult

    store = RunStore(home / "runs.sqlite")
    run_id = store.create("offline", "{}", Recipe(dataset="kmnist").to_json())
    store.finish(run_id, RunResult("failed", "kmnist could not be downloaded (offline?)"))
    at = open_app({"job": str(run_id)}, "app_pages/train.py")
    assert not at.exception
    assert "Failed: kmnist could not be downloaded (offline?)" in [shown(m.value) for m in at.markdown]
    assert at.get("plotly_chart") == []  # the reason, not three empty axes


def test_compare_shows_ratios_without_arrows(fresh):
    at = open_app(page="app_pages/compare.py")
    from streamlit.proto.Metric_pb2 import Metric

    assert [m.proto.direction for m in at.metric] == [Metric.MetricDirection.NONE] * 8  # "1.00x" is no rise
