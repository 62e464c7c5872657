"""Plotly figures for the pages (large fonts: these get projected)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer import Analysis, fmt
from explorer.training.lr_range import RANGE_END, RANGE_START, RangeCurve, smoothed
from ui.chart_axes import LECTURE_TITLE_CHARS, TITLE_CHARS, readable_axes, wrap_title
from ui.text import plotly_text

FONT_SIZE, LECTURE_FONT_SIZE = 16, 20  # px; lecture mode's page type is 22 px
COLORS = ["#d9480f", "#2a7ab9", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d"]


def _lecture() -> bool:
    """Whether the page is in lecture mode; False for a figure built outside an app run (a test)."""
    return get_script_run_ctx() is not None and bool(st.session_state.get("lecture"))


def _font() -> dict[str, int]:
    """The charts' type: larger in lecture mode, as the rest of the page."""
    return {"size": LECTURE_FONT_SIZE if _lecture() else FONT_SIZE}


def _layout(fig: go.Figure, height: int = 380, **extra: Any) -> go.Figure:
    lecture = _lecture()
    if lecture:  # Streamlit's chart theme sets small labels of its own: projector-sized here
        fig.update_xaxes(tickfont=_font(), title_font=_font())
        fig.update_yaxes(tickfont=_font(), title_font=_font())
        fig.update_layout(legend_font=_font())
    readable_axes(fig, lecture)
    title = extra.pop("title", None)
    lines = 0
    if title:
        wrapped = wrap_title(title, LECTURE_TITLE_CHARS if lecture else TITLE_CHARS)
        lines = wrapped.count("<br>")
        extra["title"] = {"text": wrapped, "x": 0, "xanchor": "left"}
    fig.update_layout(
        # the toolbar stands on the right edge, not on the title's line (it covered "Accuracy per epoch")
        modebar={"orientation": "v"},
        height=height,
        margin={"l": 10, "r": 30, "t": 50 + 26 * lines, "b": 10},
        font=_font(),
        # under the plot, anchored to the figure's bottom edge: Plotly then makes room for it, where a
        # legend placed relative to the plot area lands on the x-axis title when the chart is narrow
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},
        **extra,
    )
    return fig


def _log_y(fig: go.Figure, values: Sequence[float], **title: Any) -> None:
    """A log y axis ticked at 1-2-5 steps (1, 2, 5, 10, 20 ...; only powers of ten, and fewer of them,
    over many decades), each with its full value: Plotly's own log ticks label the 2s and 5s as bare
    small digits, which read as noise on a projector."""
    positive = [v for v in values if v > 0]
    axis: dict[str, Any] = {}
    if positive:
        lo, hi = min(positive), max(positive)
        first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        if last - first > 3:  # many decades: powers of ten, whole decades shown (range is in log10 units)
            step = math.ceil((last - first) / 6)
            last = first + step * math.ceil((last - first) / step)
            axis = {"tickvals": [float(f"1e{k}") for k in range(first, last + 1, step)], "range": [first, last]}
        else:
            ticks = [float(f"{m}e{k}") for k in range(first, last + 1) for m in (1, 2, 5)]
            ticks = [t for t in ticks if lo / 1.3 <= t <= hi * 1.3]
            axis = {"tickvals": ticks} if len(ticks) >= 2 else {}
    fig.update_yaxes(type="log", **axis, **title)


def stage_bars(analyses: Sequence[tuple[str, Analysis]]) -> go.Figure:
    """Parameters and MACs per stage, side by side; one bar colour per network."""
    unit = fmt.macs_unit(max(a.macs for _, a in analyses))  # the stage tables' unit
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Parameters by stage (millions)", f"MACs by stage ({unit.word})")
    )
    for i, (name, a) in enumerate(analyses):
        stages = [s.name for s in a.stages]
        color = COLORS[i % len(COLORS)]
        show = len(analyses) > 1
        fig.add_bar(
            x=stages, y=[s.params / 1e6 for s in a.stages], name=name, marker_color=color, showlegend=show, row=1, col=1
        )
        fig.add_bar(
            x=stages,
            y=[s.macs / unit.scale for s in a.stages],
            name=name,
            marker_color=color,
            showlegend=False,
            row=1,
            col=2,
        )
    return _layout(fig, barmode="group")


def shape_flow(a: Analysis) -> go.Figure:
    """Spatial side and channels after each stage: the ResNet trade of size for depth."""
    names = ["input", *(s.name for s in a.stages[:-1])]
    heights = [a.spec.input.height] + [s.output_shape[1] for s in a.stages[:-1]]
    channels = [a.spec.input.channels] + [s.output_shape[0] for s in a.stages[:-1]]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for values, label, color, secondary in ((heights, "height (px)", COLORS[1], False),
                                            (channels, "channels", COLORS[0], True)):  # fmt: skip
        fig.add_scatter(
            x=names,
            y=values,
            name=label,
            mode="lines+markers",
            line={"color": color, "width": 3},
            secondary_y=secondary,
        )
        # log axes ticked at the network's own values (224, 56, 28 ... and 64, 256, 2048), not at
        # Plotly's 2-5-10 minor ticks; no grid for the second axis, whose lines would not match
        fig.update_yaxes(
            title_text=label, type="log", tickvals=sorted(set(values)), showgrid=not secondary, secondary_y=secondary
        )
    return _layout(fig, title="Spatial size down, channels up")


def curves(
    runs: Sequence[dict[str, Any]],
    metric: str,
    title: str,
    x: str = "epoch",
    log_y: bool = False,
    fraction: bool = False,
) -> go.Figure:
    """One line per run: each run is {"name", "rows": [{x: .., metric: ..}, ...]}. `fraction`: an
    accuracy or an error, drawn on 0..1 whatever its values (one epoch's point would else get an
    axis from 0.5 to 1.5)."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        rows = [r for r in run["rows"] if r.get(metric) is not None]
        fig.add_scatter(
            x=[r[x] for r in rows],
            y=[r[metric] for r in rows],
            name=plotly_text(run["name"]),
            mode="lines+markers" if x == "epoch" else "lines",
            line={"color": run.get("color") or COLORS[i % len(COLORS)], "width": 3, "dash": run.get("dash") or "solid"},
        )
    fig.update_xaxes(title_text=x)
    if x == "epoch":  # whole epochs only: Plotly ticks three epochs at 1, 1.5, 2, 2.5, 3
        last = max((r[x] for run in runs for r in run["rows"]), default=1)
        fig.update_xaxes(dtick=max(1, math.ceil(last / 10)), tick0=1 if last <= 10 else 0)
    if log_y:
        _log_y(fig, [r[metric] for run in runs for r in run["rows"] if r.get(metric) is not None])
    if fraction:
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(fig, height=340, title=title)


X_TITLES = {"step": "step", "elapsed": "wall time (s)"}
HEALTHY_UPDATE = 1e-3  # update / weight per step: about this with a good learning rate (CS231n)


def step_loss(runs: Sequence[dict[str, Any]], smoothing: float, x: str = "step") -> go.Figure:
    """The sampled step losses of one or more runs ({"name", "rows"}), raw and faint, with their
    bias-corrected moving average (TensorBoard's smoothing) bold; over steps or wall time."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        rows = [r for r in run["rows"] if r.get("loss") is not None]
        xs, losses, color = [r[x] for r in rows], [r["loss"] for r in rows], run.get("color") or COLORS[i % len(COLORS)]
        if smoothing > 0:
            fig.add_scatter(x=xs, y=losses, name=plotly_text(run["name"]), showlegend=False, opacity=0.3, mode="lines",
                            line={"color": color, "width": 1.5}, hoverinfo="skip")  # fmt: skip
        fig.add_scatter(x=xs, y=smoothed(losses, smoothing) if smoothing > 0 else losses, name=plotly_text(run["name"]),
                        mode="lines", line={"color": color, "width": 3, "dash": run.get("dash", "solid")})  # fmt: skip
    fig.update_xaxes(title_text=X_TITLES[x])
    _log_y(fig, [r["loss"] for run in runs for r in run["rows"] if r.get("loss") is not None])
    return _layout(fig, height=340, title="Loss per step" + (f" (smoothed {smoothing:g})" if smoothing else ""))


def stage_training(runs: Sequence[dict[str, Any]], metric: str, title: str, x: str = "step") -> go.Figure:
    """One line per stage and run, over the sampled steps: each run is {"name", "rows", "dash"} with
    rows carrying "stages" (stage_stats.StageStats as dicts). Stages share a colour across runs."""
    fig = go.Figure()
    stages = list(dict.fromkeys(p["stage"] for run in runs for r in run["rows"] for p in r.get("stages", [])))
    values = []
    for i, run in enumerate(runs):
        for j, stage in enumerate(stages):
            points = [(r[x], p[metric]) for r in run["rows"] for p in r.get("stages", []) if p["stage"] == stage]
            points = [(a, v) for a, v in points if v and v > 0]  # a log axis has no zero
            values += [v for _, v in points]
            fig.add_scatter(
                x=[a for a, _ in points],
                y=[v for _, v in points],
                name=stage,  # one legend entry per stage: a twin's lines are its dashed copies
                legendgroup=stage,
                showlegend=i == 0,
                hovertemplate=f"{stage}, {plotly_text(run['name'])}: %{{y:.3g}}<extra></extra>",
                mode="lines",
                line={"color": COLORS[j % len(COLORS)], "width": 2.5, "dash": run.get("dash", "solid")},
            )
    if metric == "update_ratio":
        fig.add_hline(y=HEALTHY_UPDATE, line={"color": "#888888", "dash": "dot"}, annotation_text="1e-3")
        values.append(HEALTHY_UPDATE)
    fig.update_xaxes(title_text=X_TITLES[x])
    _log_y(fig, values)
    if metric == "update_ratio":
        fig.update_yaxes(tickformat=".0e")  # 1e-3, not Plotly's SI "1m"
    return _layout(fig, height=360, title=title)


def leaderboard_range(accuracies: Sequence[float]) -> list[float]:
    """The accuracy axis fitted to the entries: 99.17% and 98.61% on a 0-100% axis look the same."""
    low, high = min(accuracies), max(accuracies)
    pad = max((high - low) * 0.25, 0.005)
    return [max(0.0, low - 2 * pad), min(1.0, high + pad)]


def leaderboard(standings: Sequence[Any]) -> go.Figure:
    """The ranked entries (challenge.Standing) as horizontal bars of test accuracy, best on top."""
    labels = [f"{s.rank}. {plotly_text(s.name)}" for s in standings]
    fig = go.Figure(
        go.Bar(
            x=[s.test_acc for s in standings],
            y=labels,
            orientation="h",
            text=[f"{s.test_acc:.2%} · {s.params:,} params" for s in standings],
            textposition="auto",
            marker_color=[COLORS[0] if s.rank == 1 else COLORS[1] for s in standings],
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(
        range=leaderboard_range([s.test_acc for s in standings]), tickformat=".1%", title_text="test accuracy"
    )
    return _layout(fig, height=120 + 44 * len(standings), title="Leaderboard", showlegend=False)


def confusion(matrix: list[list[int]], labels: Sequence[str]) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(labels),
            y=list(labels),
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    # Categories, not numbers: digit labels "0".."9" would otherwise get a numeric axis ticked every 2.
    fig.update_xaxes(title_text="predicted", type="category")
    fig.update_yaxes(title_text="true", autorange="reversed", type="category")
    return _layout(fig, height=520, title="Confusion matrix (test set)")


def class_probabilities(probabilities: Sequence[float], labels: Sequence[str], truth: int | None = None) -> go.Figure:
    """One image's class probabilities, most likely first: the prediction in the accent colour,
    the true class (when known and different) in the second colour, the rest grey."""
    order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])
    best = order[0]
    colors = [COLORS[0] if i == best else COLORS[1] if i == truth else "#adb5bd" for i in order]
    fig = go.Figure(
        go.Bar(
            x=[probabilities[i] for i in order],
            y=[labels[i] for i in order],
            orientation="h",
            marker_color=colors,
            text=[f"{probabilities[i]:.0%}" for i in order],
            textposition="outside",
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title_text="probability")
    fig.update_yaxes(type="category", autorange="reversed", tickfont=_font())  # class names: projector-sized
    return _layout(fig, height=max(260, 34 * len(order) + 90), title="What the network says")


def gradient_flow(
    series: Sequence[tuple[str, Sequence[int], Sequence[float], str]],
    y_title: str = "‖∂loss/∂W‖",
    title: str = "Gradient norm of each layer's weights at initialisation",
) -> go.Figure:
    """A size per layer (log scale), by default the weights' gradient norm; series are (name, depth
    index, values, dash)."""
    fig = go.Figure()
    for i, (name, index, norms, dash) in enumerate(series):
        kept = [(x, g) for x, g in zip(index, norms, strict=True) if g > 0]  # a log axis has no zero
        fig.add_scatter(
            x=[x for x, _ in kept],
            y=[g for _, g in kept],
            name=name,
            mode="lines+markers",
            line={"color": COLORS[i % len(COLORS)], "width": 3, "dash": dash},
        )
    fig.update_xaxes(title_text="layer (1 = at the input)")
    _log_y(fig, [g for _, _, norms, _ in series for g in norms], title_text=y_title)
    return _layout(fig, height=420, title=title)


def final_vs_lr(
    points: Sequence[tuple[str, Sequence[float], Sequence[float]]], chance: float | None = None
) -> go.Figure:
    """Final training loss at each learning rate, one line per group; `chance` draws the loss of
    guessing (ln of the number of classes): a run on that line learned nothing."""
    fig = go.Figure()
    if chance is not None:
        fig.add_hline(y=chance, line={"dash": "dot", "color": "#888"})
        # on a log axis an annotation's y is the exponent (Plotly), the line's is the value
        fig.add_annotation(
            x=0, xref="paper", y=math.log10(chance), text="guessing", showarrow=False, xanchor="left", yanchor="bottom"
        )
    for i, (name, lrs, losses) in enumerate(points):
        fig.add_scatter(
            x=list(lrs), y=list(losses), name=name, mode="lines+markers", line={"color": COLORS[i], "width": 3}
        )
    # ticked at the learning rates that were tried (0.01, 0.03, ...), not at Plotly's 2-5 minor ticks
    tried = sorted({lr for _, lrs, _ in points for lr in lrs})
    fig.update_xaxes(title_text="learning rate", type="log", tickvals=tried)
    _log_y(fig, [v for _, _, losses in points for v in losses], title_text="final training loss")
    return _layout(fig, height=380, title="Final loss against learning rate")


def lr_range(curve: RangeCurve, finished: bool = True) -> go.Figure:
    """A range test: loss per step against its learning rate (log axis), the smoothed loss, and
    once it has finished, where it is lowest and where it falls fastest (the suggestion); while it
    runs those would mark noise."""
    fig = go.Figure()
    fig.add_scatter(x=curve.lrs, y=curve.losses, name="loss per step", mode="lines", line={"color": "#bbb", "width": 2})
    fig.add_scatter(x=curve.lrs, y=curve.smoothed, name="smoothed", mode="lines", line={"color": COLORS[1], "width": 4})
    # the suggestion is left of the lowest point: its label goes to the left of its line
    marks = ((curve.lowest_lr, "lowest", COLORS[3], "left"), (curve.suggested_lr, "steepest", COLORS[0], "right"))
    for lr, text, color, side in marks if finished else ():
        fig.add_vline(x=lr, line={"dash": "dash", "color": color, "width": 2})
        # on a log axis an annotation's x is the exponent (Plotly), the line's is the value
        fig.add_annotation(
            x=math.log10(lr),
            y=1,
            yref="paper",
            text=f" {text} {lr:.2g} ",
            showarrow=False,
            xanchor=side,
            yanchor="top",
            font={"color": color},
        )
    return _lr_axes(fig, [curve], "Loss as the learning rate grows")


def lr_ranges(tests: Sequence[tuple[str, RangeCurve]]) -> go.Figure:
    """Several range tests' smoothed losses on one chart, each with a dot where it falls fastest:
    networks or optimizers side by side, and how wide each one's good range is."""
    fig = go.Figure()
    for i, (name, curve) in enumerate(tests):
        color = COLORS[i % len(COLORS)]
        fig.add_scatter(x=curve.lrs, y=curve.smoothed, name=name, mode="lines", line={"color": color, "width": 3})
        at = curve.lrs.index(curve.suggested_lr)
        fig.add_scatter(
            x=[curve.suggested_lr], y=[curve.smoothed[at]], mode="markers", marker={"color": color, "size": 14},
            showlegend=False, hovertemplate=f"{name}: steepest at lr %{{x:.2g}}<extra></extra>",
        )  # fmt: skip
    return _lr_axes(fig, [curve for _, curve in tests], "Range tests: smoothed loss as the learning rate grows")


def _lr_axes(fig: go.Figure, curves: Sequence[RangeCurve], title: str) -> go.Figure:
    """A log learning-rate axis by decades, and a loss axis cut off at 1.5x the highest starting
    loss, so that the blow-ups at the end leave the valleys the height of the chart."""
    top = 1.5 * max(curve.smoothed[0] for curve in curves)
    low = min(min(curve.losses) for curve in curves)
    fig.update_xaxes(
        title_text="learning rate",
        type="log",
        dtick=1,
        exponentformat="power",
        range=[math.log10(RANGE_START), math.log10(RANGE_END)],  # the whole sweep: a live curve grows across
    )
    fig.update_yaxes(title_text="training loss", range=[0.9 * low, top])
    return _layout(fig, height=400, title=title)
