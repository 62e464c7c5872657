"""What the AppTest tests share: the app's path, a new browser session at a link, reading a metric.

AppTest instances in one process share the server's cached objects (the job registry, the
broadcast), as the browser sessions of one server do: several of them are several students."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# How long a test waits for a run to settle: a bound, not a duration (a run that ends returns at
# once). Generous, because a machine busy with other work slows every run several times over.
SETTLE_SECONDS = 300


def open_app(params: dict | None = None, page: str | None = None) -> AppTest:
    """A new browser session, at the link's page."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))
