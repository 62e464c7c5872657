"""Every chart with its text alternative (WCAG 2.1 1.1.1): a sentence of what it plots with the
latest values, and its data as a table on request. Plotly's charts had none (issue 23)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ui.text import plain

MAX_SERIES_SAID = 6  # a sentence names at most this many series; the table has them all


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _title(fig: go.Figure) -> str:
    text = fig.layout.title.text or ""
    annotations = [a.text for a in fig.layout.annotations or () if a.text]  # subplot titles
    return (text or "; ".join(annotations)).replace("<br>", " ")


def _axis_title(fig: go.Figure, axis: str) -> str:
    try:
        return fig.layout[axis].title.text or ""
    except (KeyError, ValueError):  # no such axis
        return ""


def _points(trace: Any) -> list[tuple[Any, Any]]:
    xs = list(trace.x) if trace.x is not None else list(range(len(trace.y if trace.y is not None else [])))
    ys = list(trace.y) if trace.y is not None else []
    return [(x, y) for x, y in zip(xs, ys, strict=False) if y is not None]


def describe(fig: go.Figure) -> str:
    """ "Loss per step: run 3 0.412 at 150 (step); ..." — each series' last point, in words."""
    title = _title(fig) or "Chart"
    said = []
    for trace in fig.data:
        if trace.type == "heatmap":
            said.append(f"a {len(trace.z)}×{len(trace.z[0]) if len(trace.z) else 0} grid of counts")
            continue
        points = _points(trace)
        if not points:
            continue
        x, y = points[-1]
        axis = "xaxis" + (trace.xaxis[1:] if trace.xaxis and trace.xaxis != "x" else "")
        where = _axis_title(fig, axis)
        name = trace.name or "values"
        said.append(f"{name} {_number(y)} at {_number(x)}" + (f" ({where})" if where else ""))
    more = f" and {len(said) - MAX_SERIES_SAID} more" if len(said) > MAX_SERIES_SAID else ""
    return f"{title}: " + ("; ".join(said[:MAX_SERIES_SAID]) + more if said else "no data yet") + "."


def data_table(fig: go.Figure) -> pd.DataFrame:
    """Every plotted point: series, x, y (a heatmap's cells as row, column, value)."""
    rows = []
    for trace in fig.data:
        name = trace.name or trace.type
        if trace.type == "heatmap":
            xs, ys = list(trace.x or range(len(trace.z[0]))), list(trace.y or range(len(trace.z)))
            rows += [{"series": name, "x": xs[j], "y": ys[i], "value": v}
                     for i, row in enumerate(trace.z) for j, v in enumerate(row)]  # fmt: skip
            continue
        rows += [{"series": name, "x": x, "y": y} for x, y in _points(trace)]
    return pd.DataFrame(rows).astype(str) if rows else pd.DataFrame({"series": []})


def plot(where: Any, fig: go.Figure, key: str) -> None:
    """The chart in `where` (st, a column), its description below, its data on request."""
    where.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})
    where.caption(plain(describe(fig)))  # series are named after runs and entries: text stays text
    if where.toggle("Data as a table", key=f"{key}_table", help="Every plotted point, for a screen reader or a copy"):
        where.dataframe(data_table(fig), hide_index=True, width="stretch")
