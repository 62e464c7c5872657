"""What the AppTest tests share: the app's path, a new browser session at a link, reading a metric.

AppTest instances in one process share the server's cached objects (the job registry, the
broadcast), as the browser sessions of one server do: several of them are several students."""

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_app(params: dict | None = None, page: str | None = None) -> AppTest:
    """A new browser session, at the link's page."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def shown(markdown: str) -> str:
    """What a reader sees of an element's Markdown where ui.text.plain escaped a name or a message:
    the characters, without the backslashes before punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def figures(at: AppTest) -> list[dict]:
    """The page's Plotly figures as data (parsed, never matched as text: Plotly's JSON escapes
    characters differently with and without the optional orjson)."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def title(figure: dict) -> str:
    return figure["layout"].get("title", {}).get("text", "").replace("<br>", " ")  # wrapped for narrow charts


def figure(at: AppTest, title_start: str) -> dict:
    """The figure whose title starts with `title_start`."""
    return next(f for f in figures(at) if title(f).startswith(title_start))


def diagrams(at: AppTest) -> list[str]:
    """The SVG of each diagram on the page (ui/diagram_view.py's component carries it as data)."""
    return [json.loads(c.proto.json)["svg"] for c in at.get("bidi_component") if "svg" in json.loads(c.proto.json)]
