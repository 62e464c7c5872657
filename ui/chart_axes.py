"""Charts readable on a projector (issue 23): titles that wrap, small values as powers of ten, and
tick labels that do not run together."""

from __future__ import annotations

import plotly.graph_objects as go

TITLE_CHARS, LECTURE_TITLE_CHARS = 44, 30  # a title's line: ~350 px of a column at 16 px, ~330 at 20 px


def wrap_title(title: str, width: int) -> str:
    """A title on lines of at most `width` characters (Plotly never wraps: "Loss per step (smoothed 0")."""
    lines: list[str] = []
    for word in title.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def readable_axes(fig: go.Figure, lecture: bool) -> None:
    """Small values as 1e-4, not Plotly's SI "100μ"; on a projector fewer ticks, so that step numbers
    do not run together ("0153045…150") and a log axis keeps room between its labels."""
    fig.update_xaxes(exponentformat="e")
    fig.update_yaxes(exponentformat="e")
    if lecture:  # numbers only: a category axis (stages, classes, names) keeps every label
        if _numeric(fig, "x"):
            fig.for_each_xaxis(lambda axis: axis.update(nticks=6) if axis.type != "category" else None)
        if _numeric(fig, "y"):
            fig.for_each_yaxis(lambda axis: axis.update(nticks=5) if axis.tickvals is None else None)


def _numeric(fig: go.Figure, dim: str) -> bool:
    values = [v for trace in fig.data if trace.type != "heatmap" for v in (getattr(trace, dim) or ())]
    return bool(values) and all(isinstance(v, int | float) for v in values)
