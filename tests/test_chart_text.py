"""Charts readable at lecture size and with their text alternative (ui/charts.py, ui/chart_text.py)."""

import plotly.graph_objects as go

from ui import charts
from ui.chart_axes import wrap_title
from ui.chart_text import data_table, describe


def test_titles_wrap_at_words_and_small_values_read_as_powers_of_ten():
    assert wrap_title("Loss per step (smoothed 0.9)", 20) == "Loss per step<br>(smoothed 0.9)"
    fig = charts.step_loss([{"name": "run 1", "rows": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1e-4}]}], 0.0)
    assert fig.layout.yaxis.exponentformat == "e" and fig.layout.xaxis.exponentformat == "e"
    assert fig.layout.modebar.orientation == "v"  # the toolbar beside the plot, not over the title


def test_a_chart_is_described_by_its_latest_values_and_tabled():
    fig = go.Figure()
    fig.add_scatter(x=[1, 2, 3], y=[0.9, 0.5, 0.25], name="resnet-20")
    fig.add_scatter(x=[1, 2], y=[1.0, 0.75], name="plain-20")
    fig.update_layout(title="Training loss", xaxis_title="epoch")
    assert describe(fig) == "Training loss: resnet-20 0.25 at 3 (epoch); plain-20 0.75 at 2 (epoch)."
    table = data_table(fig)
    assert list(table.columns) == ["series", "x", "y"] and len(table) == 5
    assert table.iloc[-1].tolist() == ["plain-20", "2", "0.75"]
    heat = go.Figure(go.Heatmap(z=[[5, 1], [0, 7]], x=["0", "1"], y=["0", "1"], name="counts"))
    assert describe(heat) == "Chart: a 2×2 grid of counts." and len(data_table(heat)) == 4


def test_on_a_projector_numeric_axes_get_fewer_ticks_and_names_keep_theirs():
    from ui.chart_axes import readable_axes

    steps = go.Figure(go.Scatter(x=list(range(0, 151, 15)), y=[1 / (1 + i) for i in range(11)]))
    readable_axes(steps, lecture=True)
    assert (steps.layout.xaxis.nticks, steps.layout.yaxis.nticks) == (6, 5)  # not "0153045…150"
    stages = go.Figure(go.Bar(x=["stem", "layer1", "layer2", "layer3", "layer4", "head", "x", "y"], y=[1] * 8))
    readable_axes(stages, lecture=True)
    assert stages.layout.xaxis.nticks is None and stages.layout.yaxis.nticks == 5  # every stage named
    readable_axes(desk := go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), lecture=False)
    assert desk.layout.xaxis.nticks is None
