"""Gradient flow at initialisation: the three measurements show the phenomena the page explains, and
the page's sentences say what its charts and metrics show, at its defaults and over a grid of its
controls (the numbers are read back off the rendered page, never recomputed in the test)."""

import math
import re

import pytest

from explorer.inspect.gradient_flow import FlowMeasure, flow_readout, measure_flow, ratio_text
from explorer.inspect.teaching import cifar_spec

from .apptest import figure, open_app


def test_without_batch_norm_xavier_collapses_the_plain_signal_far_more_than_kaiming():
    """Xavier halves the variance at every ReLU layer (31 of them: about 2^-15 in size); Kaiming is
    scaled for ReLUs (He et al. 2015) and loses far less."""
    xavier = measure_flow(cifar_spec(32, 8, residual=False, batch_norm=False), "xavier")
    kaiming = measure_flow(cifar_spec(32, 8, residual=False, batch_norm=False), "torchvision")
    assert len(xavier.signal) == len(xavier.grad_norm) == 31 and xavier.layers[0] == "conv1"
    assert xavier.signal_ratio < 1e-5 and kaiming.signal_ratio > 1e-2


def test_with_batch_norm_the_plain_gradient_grows_and_shatters_the_residual_one_does_not():
    """He et al.'s setting (Kaiming, batch norm), the page's default: the plain network's gradient
    grows towards the input (Yang et al. 2019) and decorrelates (Balduzzi et al. 2017)."""
    plain = measure_flow(cifar_spec(32, 8, residual=False))
    residual = measure_flow(cifar_spec(32, 8, residual=True))
    assert plain.first_to_last_ratio > 5 * residual.first_to_last_ratio and plain.first_to_last_ratio > 30
    assert plain.correlation < 0.1 and residual.correlation > 0.4


def test_zero_init_gradient_flow_ignores_silent_last_layers():
    flow = measure_flow(cifar_spec(20, 8, zero_init_residual=True))
    assert flow.grad_norm[-1] == 0.0 and 0 < flow.first_to_last_ratio < math.inf


def _measure(signal: tuple[float, float], grads: tuple[float, float], correlation: float) -> FlowMeasure:
    return FlowMeasure(("conv1", "layer1.0.conv1"), signal, grads, correlation)


SMALL_PLAIN = (
    "**Forward:** from the first layer to the last block, the signal is multiplied by 1.0e-09 in the plain "
    "network (it collapses) and by 11 in the residual one (it grows).",
    "**Backward:** the first layer's gradient is 1 times the last layer's in the plain network (towards "
    "the input it keeps its size) and 0.11 times in the residual one (it keeps its size); at the first "
    "layer the residual network's is 1.9e+11 times the plain one's.",
    "**Shattering:** the gradients at neighbouring inputs correlate at 0.52 in the plain network and 0.92 "
    "in the residual one: the plain network's gradient has lost more of its structure, it is shattered "
    "(Balduzzi et al. 2017).",
)
LARGE_PLAIN = (
    "**Forward:** from the first layer to the last block, the signal is multiplied by 0.7 in the plain network "
    "(it keeps its size) and by 0.7 in the residual one (it keeps its size).",
    "**Backward:** the first layer's gradient is 5.0e+03 times the last layer's in the plain network "
    "(towards the input it grows) and 0.5 times in the residual one (it keeps its size); at the first "
    "layer the plain network's is 25 times the residual one's.",
    "**Shattering:** the gradients at neighbouring inputs correlate at 0.90 in the plain network and 0.30 "
    "in the residual one: here the residual network's gradient has lost more of its structure (Balduzzi "
    "et al. 2017).",
)


@pytest.mark.parametrize(
    "plain, residual, said",
    [
        (_measure((1.0, 1e-9), (1e-10, 1e-10), 0.52), _measure((1.0, 11.0), (19.0, 170.0), 0.92), SMALL_PLAIN),
        (_measure((1.0, 0.7), (50.0, 0.01), 0.9), _measure((1.0, 0.7), (2.0, 4.0), 0.3), LARGE_PLAIN),
    ],
)
def test_the_sentences_follow_the_numbers_either_way(plain, residual, said):
    assert flow_readout(plain, residual) == list(said)


FORWARD = re.compile(r"multiplied by (\S+) in the plain network \(it ([a-z ]+)\) and by (\S+) in the residual one "
                     r"\(it ([a-z ]+)\)")  # fmt: skip
BACKWARD = re.compile(r"gradient is (\S+) times the last layer's in the plain network \(towards the input it "
                      r"([a-z ]+)\) and (\S+) times in the residual one \(it ([a-z ]+)\)")  # fmt: skip
SHATTER = re.compile(r"correlate at (\S+) in the plain network and (\S+) in the residual one: (.*)")


def _trend(ratio: float, shrinks: str, grows: str) -> str:
    return shrinks if ratio < 0.1 else grows if ratio > 10 else "keeps its size"


def _check_page(at) -> None:
    """The page's sentences against its own charts and metrics."""
    text = " ".join(m.value for m in at.markdown)
    signal = {t["name"].split("-")[0]: t["y"] for t in figure(at, "Forward")["data"]}  # at each block's input
    grads = {t["name"].split("-")[0]: t["y"] for t in figure(at, "Backward")["data"]}
    forward, backward, shatter = FORWARD.search(text), BACKWARD.search(text), SHATTER.search(text)
    for i, net in ((1, "plain"), (3, "resnet")):
        ratio = signal[net][-1] / signal[net][0]
        assert forward[i] == ratio_text(ratio) and forward[i + 1] == _trend(ratio, "collapses", "grows")
        ratio = grads[net][0] / grads[net][-1]  # the chart leaves out zeros (a log axis): the last non-zero
        assert backward[i] == ratio_text(ratio) and backward[i + 1] == _trend(ratio, "fades", "grows")
    metrics = [m.value for m in at.metric if "correlation" in m.label]
    assert [shatter[1], shatter[2]] == metrics
    p, r = (float(v) for v in metrics)
    expected = "the plain network's" if r - p >= 0.1 else "here the residual" if p - r >= 0.1 else "here the two"
    assert shatter[3].startswith(expected)


def test_the_page_says_what_it_shows_at_its_defaults_and_over_its_controls(fresh):
    at = open_app(page="app_pages/why_residuals.py")
    assert not at.exception
    identity = {m.label.split(":")[0]: m.value for m in at.metric if "max |block(x) − x|" in m.label}
    said = next(m.value for m in at.markdown if m.value.startswith("Measured on a batch"))
    assert identity["Residual block, last BN γ = 0"] == "0" and "computes ReLU(0 + x) = x exactly" in said
    assert float(identity["The same block without its shortcut"]) > 0 and "loses its input entirely" in said
    _check_page(at)  # depth 56, width 16, Kaiming, batch norm: the default
    text = " ".join(m.value for m in at.markdown)
    assert "it is shattered" in text  # the difference shows at the defaults
    at.select_slider(key="w_width").set_value(8)
    for depth in (8, 20):
        at.select_slider(key="w_depth").set_value(depth)
        for init in ("torchvision", "xavier"):
            at.selectbox(key="w_init").set_value(init)
            for bn in (True, False):
                at.toggle(key="w_bn").set_value(bn).run()
                assert not at.exception
                _check_page(at)
