"""What the pages print and plot: number formats and chart axes."""

import pytest

from explorer import fmt
from ui import charts


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.0 s"),
        (0.42, "0.4 s"),
        (3.24, "3.2 s"),
        (9.96, "10 s"),
        (42.3, "42 s"),
        (59.6, "1:00"),
        (65, "1:05"),
        (3723.4, "1:02:03"),
    ],
)
def test_durations(seconds, text):
    assert fmt.duration(seconds) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (512, "512 B"),
        (1536, "1.5 KiB"),
        (1.1 * 2**30, "1.1 GiB"),
        (147050.7 * 2**30, "143.6 TiB"),
        (3 * 2**50, "3.0 PiB"),
    ],
)
def test_sizes_use_the_largest_unit_that_fits(n, text):
    assert fmt.nbytes(n) == text  # a huge network's activations read "143.6 TiB", not "147050.7 GiB"


@pytest.mark.parametrize(
    ("macs", "text"), [(318_657_536, "0.319 G"), (4_089_184_256, "4.089 G"), (3_786_283_644_000_000, "3.786 P")]
)
def test_macs_on_the_design_page_stay_short(macs, text):
    assert fmt.macs_short(macs) == text


def test_confusion_matrix_labels_every_class():
    digits = [str(i) for i in range(10)]
    fig = charts.confusion([[int(i == j) for j in range(10)] for i in range(10)], digits)
    # "0".."9" on a numeric axis would be ticked every 2; as categories each class has its label.
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
    assert list(fig.data[0].x) == digits


def test_shape_flow_ticks_are_the_networks_own_sizes():
    import explorer

    fig = charts.shape_flow(explorer.analyze(explorer.preset("resnet50")))
    assert list(fig.layout.yaxis.tickvals) == [7, 14, 28, 56, 224]  # input 224, stem 56, then halving
    assert list(fig.layout.yaxis2.tickvals) == [3, 64, 256, 512, 1024, 2048]


def test_log_axes_are_ticked_at_full_values_or_at_the_values_tried():
    fig = charts.final_vs_lr(
        [("BN", [0.01, 0.1, 1.0], [2.0, 1.5, 3.0]), ("no BN", [0.01, 0.1, 1.0], [2.1, 2.0, 150.0])]
    )
    assert list(fig.layout.xaxis.tickvals) == [0.01, 0.1, 1.0]
    assert list(fig.layout.yaxis.tickvals) == [2, 5, 10, 20, 50, 100]  # 1-2-5 over 1.5 .. 150
    flow = charts.gradient_flow([("plain", [1, 2, 3], [3e-10, 1e-5, 80.0], "dash")])
    assert list(flow.layout.yaxis.tickvals) == [1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1, 100]  # many decades: fewer
    assert list(flow.layout.yaxis.range) == [-10, 2]  # whole decades, so the end ticks are on the chart
    rows = [{"epoch": 1, "v": 0.5}, {"epoch": 2, "v": 0.45}]
    narrow = charts.curves([{"name": "a", "rows": rows}], "v", "t", log_y=True)
    assert narrow.layout.yaxis.type == "log" and narrow.layout.yaxis.tickvals is None  # one tick only: Plotly's own


def test_stage_mac_bars_count_in_the_stage_tables_unit():
    import explorer

    mini, resnet50 = (explorer.analyze(explorer.preset(n)) for n in ("resnet-mini", "resnet50"))
    alone = charts.stage_bars([("resnet-mini", mini)])
    assert alone.layout.annotations[1].text == "MACs by stage (millions)"
    assert list(alone.data[1].y) == [s.macs / 1e6 for s in mini.stages]
    both = charts.stage_bars([("resnet-mini", mini), ("resnet50", resnet50)])  # the larger network's unit
    assert both.layout.annotations[1].text == "MACs by stage (billions)"
    assert list(both.data[3].y) == [s.macs / 1e9 for s in resnet50.stages]


def test_learning_rate_sweep_marks_the_loss_of_guessing():
    import math

    fig = charts.final_vs_lr([("BN", [0.1, 1.0], [1.4, 3.0])], chance=math.log(10))
    assert fig.layout.shapes[0].y0 == fig.layout.shapes[0].y1 == math.log(10)
    assert fig.layout.annotations[-1].text == "guessing"
    assert fig.layout.annotations[-1].y == math.log10(math.log(10))  # log axis: Plotly places it by exponent


def test_range_test_charts_mark_the_steepest_fall_and_keep_the_valleys_in_view():
    import math

    from explorer.training.lr_range import range_curve, range_lr

    def test_curve(centre: float, start: float):
        return range_curve(
            [
                {"step": s, "loss": start - math.tanh(2 * (math.log10(range_lr(s)) - centre)) + (s > 90) * 50.0}
                for s in range(1, 101)
            ]
        )

    sgd, adam = test_curve(-1, 3.0), test_curve(-3, 2.5)
    one = charts.lr_range(sgd)
    assert one.layout.xaxis.type == "log" and [d.name for d in one.data] == ["loss per step", "smoothed"]
    assert {a.text.strip() for a in one.layout.annotations} == {
        f"steepest {sgd.suggested_lr:.2g}",
        f"lowest {sgd.lowest_lr:.2g}",
    }
    assert one.layout.yaxis.range[1] == 1.5 * sgd.smoothed[0]  # the blow-up (loss 50) is cut off
    assert tuple(one.layout.xaxis.range) == (-5, 1)  # 1e-5 to 10: a live test's curve grows across it
    assert not charts.lr_range(sgd, finished=False).layout.annotations  # no marks on a curve still growing
    both = charts.lr_ranges([("sgd", sgd), ("adamw", adam)])
    lines = [d for d in both.data if d.mode == "lines"]
    dots = [d for d in both.data if d.mode == "markers"]
    assert [d.name for d in lines] == ["sgd", "adamw"]
    assert [d.x[0] for d in dots] == [sgd.suggested_lr, adam.suggested_lr]  # one dot per test, at its steepest
    assert adam.suggested_lr < sgd.suggested_lr and 0.008 <= sgd.suggested_lr <= 0.125
    assert both.layout.yaxis.range[1] == 1.5 * max(sgd.smoothed[0], adam.smoothed[0])


def test_map_pictures_and_the_grad_cam_overlay_for_grey_and_colour():
    import numpy as np
    import torch

    from explorer.inspect.feature_maps import tile
    from ui.try_it import MAPS_WIDTH, VIRIDIS, _overlay, maps_picture

    grey = maps_picture(tile(torch.rand(16, 4, 4), columns=8))  # 8 maps of 4 px + 7 gaps across
    assert grey.dtype == np.uint8 and grey.shape == (9 * 19, 39 * 19, 3) and grey.shape[1] <= MAPS_WIDTH
    assert (grey[4 * 19 : 5 * 19] == 255).all()  # the gap between the rows is white
    colour = maps_picture(tile(torch.randn(6, 3, 7, 7), columns=8))  # an RGB network's first filters
    assert colour.shape[2] == 3 and (colour[:, -1] == 255).all()  # two empty places at the end of the row
    cam = torch.zeros(2, 2)
    cam[0, 0] = 1.0
    for picture in (np.full((168, 168), 200, np.uint8), np.full((96, 96, 3), 200, np.uint8)):
        shown = _overlay(picture, cam)
        assert shown.shape == (*picture.shape[:2], 3) and shown.dtype == np.uint8
        bright, dark = shown[0, 0].astype(int), shown[-1, -1].astype(int)
        assert (bright == np.round(0.4 * 200 + 0.6 * VIRIDIS[255])).all()  # the evidence, in the corner
        assert (dark == np.round(0.4 * 200 + 0.6 * VIRIDIS[0])).all()


def test_epoch_axes_tick_whole_epochs_and_accuracy_stays_on_zero_to_one():
    three = [{"name": "run", "rows": [{"epoch": e, "acc": 0.8 + e / 100} for e in (1, 2, 3)]}]
    fig = charts.curves(three, "acc", "Test accuracy", fraction=True)
    assert (fig.layout.xaxis.dtick, fig.layout.xaxis.tick0) == (1, 1)  # not 1.5 and 2.5
    assert list(fig.layout.yaxis.range) == [0, 1.02] and fig.layout.yaxis.tickformat == ".0%"
    one = charts.curves([{"name": "run", "rows": [{"epoch": 1, "acc": 0.9}]}], "acc", "Test accuracy", fraction=True)
    assert list(one.layout.yaxis.range) == [0, 1.02]  # one point: not an axis from 0.4 to 1.4
    forty = [{"name": "run", "rows": [{"epoch": e, "loss": 1 / e} for e in range(1, 41)]}]
    assert charts.curves(forty, "loss", "Loss").layout.xaxis.dtick == 4
