"""The diagram laid out on the server (explorer/arch/diagram_svg.py) and its text outline."""

import re

import pytest

from explorer.arch.diagram import outline, to_dot
from explorer.arch.diagram_svg import FONT, layout, text_width, to_svg
from explorer.arch.plan import plan_network
from explorer.arch.presets import PRESETS

LECTURE_BODY_PX = 22  # ui/lecture.py's root type
PROJECTOR_PAGE_PX = 683 - 2 * 22  # 1024 px at 150%, less the page's padding


def test_text_is_measured_with_helvetica_widths():
    assert text_width("ReLU", 1000) == 722 + 556 + 556 + 722
    assert text_width("3×3", 10) == pytest.approx((556 + 584 + 556) / 100)


@pytest.mark.parametrize("name", ["resnet20", "d2l-resnet18", "resnet50", "resnet152"])
@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_boxes_stay_apart_and_inside_the_picture(name, direction):
    lay = layout(plan_network(PRESETS[name]), expand=name != "resnet152", direction=direction)
    boxes = [lay.boxes[n] for n in lay.order]
    for box in boxes:
        assert box.x - box.w / 2 > 0 and box.x + box.w / 2 < lay.width
        assert box.y - box.h / 2 > 0 and box.y + box.h / 2 < lay.height
    for a, b in zip(boxes, boxes[1:], strict=False):  # along the chain, each after the last
        if direction == "TB":
            assert a.y + a.h / 2 < b.y - b.h / 2
        else:
            assert a.x + a.w / 2 < b.x - b.w / 2
    if direction == "LR":
        assert lay.width > 3 * lay.height


def test_every_part_is_a_focusable_button_named_by_its_text():
    plan = plan_network(PRESETS["resnet152"])
    svg = to_svg(plan)
    parts = re.findall(r'<g class="part" data-part="([^"]+)" tabindex="0" role="button" aria-label="([^"]+)"', svg)
    assert [p for p, _ in parts] == re.findall(r'id="([^"]+)"', to_dot(plan))
    assert parts[3] == (
        "layer2.0",
        "layer2.0: 1×1 conv, 128, BN, ReLU; 3×3 conv, 128, /2, BN, ReLU; 1×1 conv, 512, BN. Look inside",
    )
    assert "1x1 projection</text>" in svg and "(1024, /2)</text>" in svg  # a skip's label on two lines
    assert svg.count(">+</text>") == 8 and svg.count(">then ReLU</text>") == 8


@pytest.mark.parametrize("name", ["resnet50", "resnet152", "d2l-resnet18"])
def test_at_lecture_type_the_diagram_fits_a_projectors_page(name):
    """Text at the page's body size (22 px in lecture mode) on a 1024-px projector at 150%."""
    lay = layout(plan_network(PRESETS[name]))
    assert lay.width * LECTURE_BODY_PX / FONT < PROJECTOR_PAGE_PX


def test_the_outline_lists_stages_and_every_block():
    lines = outline(plan_network(PRESETS["resnet20"]))
    assert len(lines) == 3 + 3 * 4
    assert lines[1] == "- stem: 3×3 conv, 16, BN, ReLU; out 16x32x32"
    assert lines[6] == "- layer2: 3 blocks, out 32x16x16"
    assert lines[7] == (
        "  - layer2.0: 3×3 conv, 32, /2, BN, ReLU; 3×3 conv, 32, BN; skip: zero-pad (+16 ch, /2); out 32x16x16"
    )
    assert lines[-1] == "- head: global avg-pool; fc, 10; out 10 class scores"
