"""What the pages print and plot: number formats and chart axes."""

import pytest

from explorer import fmt
from ui import charts


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0:00"), (0.42, "0.4 s"), (0.96, "0:01"), (65, "1:05"), (3723.4, "1:02:03")],
)
def test_durations(seconds, text):
    assert fmt.duration(seconds) == text


def test_confusion_matrix_labels_every_class():
    digits = [str(i) for i in range(10)]
    fig = charts.confusion([[int(i == j) for j in range(10)] for i in range(10)], digits)
    # "0".."9" on a numeric axis would be ticked every 2; as categories each class has its label.
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
    assert list(fig.data[0].x) == digits
