"""The block diagram laid out on the server as SVG: the browser only paints it.

Graphviz in the browser (st.graphviz_chart) laid the diagram out on the page's main thread: 0.82-0.92 s
after each change of a ResNet-50, the page frozen meanwhile (issue 23). A ResNet's diagram is a chain
(input, stem, each block and its sum, head) with one skip arc per block beside it, so its layout is
arithmetic: boxes stacked along one axis, the skip arcs on one side of them. Text is measured with
Helvetica's advance widths (Adobe's AFM), the font the SVG asks for first.

The text is FONT units high; the page scales the picture so that it is the page's body size at 100%.
Each clickable part (stem, blocks, head) is a focusable <g class="part" data-part="layer2.0">.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from .diagram import Edge, Node, graph
from .layers import NetworkPlan

DOT_FONT = 13  # the DOT text's node font size, which FONT stands for
FONT = 14.0  # units: the text of a box; the page scales it to its body size
SMALL = 0.85 * FONT  # edge labels (tensor shapes, skip kinds)
LINE = 1.25  # line height, in font sizes
PAD = (0.6 * FONT, 0.35 * FONT)  # inside a box: across, along
GAP = 1.1 * FONT  # between two boxes without a label on the edge between them
RADIUS = 0.75 * FONT  # the "+" circle
MARGIN = 4.0
BRANCH = 4.0  # where a skip arc leaves the chain, after its source box
ARROW = 5.0
TEXT_COLOR = "#31333f"  # Streamlit's body text: 12.6:1 on white
EDGE_COLOR = "#555555"

# Helvetica advance widths in 1/1000 em (Adobe AFM); other characters count as WIDE
_WIDTHS = dict(
    zip(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~×→–",
        [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278]
        + [556] * 10
        + [278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833]
        + [722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556]
        + [556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556]
        + [500, 722, 500, 500, 500, 334, 260, 334, 584, 584, 1000, 556],
        strict=True,
    )
)
WIDE = 1000


def text_width(text: str, size: float) -> float:
    """Width of `text` in Helvetica at `size` units."""
    return sum(_WIDTHS.get(ch, WIDE) for ch in text) * size / 1000


@dataclass
class _Box:
    node: Node
    w: float
    h: float
    x: float = 0.0  # centre
    y: float = 0.0

    @property
    def circle(self) -> bool:
        return self.node.attrs.get("shape") == "circle"


def _box(node: Node) -> _Box:
    if node.attrs.get("shape") == "circle":
        return _Box(node, 2 * RADIUS, 2 * RADIUS)
    size = FONT * float(node.attrs.get("fontsize", DOT_FONT)) / DOT_FONT
    width = max(text_width(line, size) for line in node.lines) + 2 * PAD[0]
    return _Box(node, width, len(node.lines) * size * LINE + 2 * PAD[1])


def _skip_lines(label: str) -> list[str]:
    """ "1x1 projection (512, /2)" on two lines: the arc's label stays narrow beside the chain."""
    head, _, rest = label.partition(" (")
    return [head, "(" + rest] if rest else [head]


def _label_size(lines: list[str]) -> tuple[float, float]:
    return max((text_width(line, SMALL) for line in lines), default=0.0), len(lines) * SMALL * LINE


@dataclass
class _Layout:
    boxes: dict[str, _Box]
    spine: list[Edge]
    skips: list[Edge]
    across: bool
    order: list[str]
    width: float = 0.0
    height: float = 0.0


def _place_along(layout: _Layout, order: list[_Box]) -> None:
    """Each box after the last along the main axis, with room for the edge label between them."""
    label = {edge.target: edge.label for edge in layout.spine}
    at = MARGIN
    for box in order:
        text = label.get(box.node.name, "")
        if at > MARGIN:
            w, h = _label_size([text] if text else [])
            at += max(GAP, (w + 2 * ARROW + 8) if layout.across else (h + SMALL))
        length = box.w if layout.across else box.h
        if layout.across:
            box.x = at + length / 2
        else:
            box.y = at + length / 2
        at += length
    if layout.across:
        layout.width = at + MARGIN
    else:
        layout.height = at + MARGIN


def _skip_offset(layout: _Layout, edge: Edge, order: list[str]) -> float:
    """How far from the chain's axis a skip arc runs: clear of the boxes and edge labels it passes."""
    first, last = order.index(edge.source), order.index(edge.target)
    passed = [layout.boxes[name] for name in order[first : last + 1]]
    if layout.across:
        return max(box.h / 2 for box in passed) + 0.8 * FONT
    labels = [text_width(e.label, SMALL) + 6 for e in layout.spine if e.target in order[first + 1 : last + 1]]
    return max([box.w / 2 for box in passed] + labels) + 0.8 * FONT


def layout(plan: NetworkPlan, expand: bool = False, direction: str = "TB", stage: str | None = None) -> _Layout:
    """Positions of every box; the chain's axis is at the middle of the cross axis."""
    dot = graph(plan, expand, direction, stage)
    boxes = {node.name: _box(node) for node in dot.nodes}
    order = [node.name for node in dot.nodes]
    spine, skips = [e for e in dot.edges if not e.skip], [e for e in dot.edges if e.skip]
    result = _Layout(boxes, spine, skips, direction == "LR", order)
    _place_along(result, [boxes[name] for name in order])
    # the cross axis: boxes centred on the axis, xlabels ("then ReLU") on one side, skip arcs on the other
    near = max(
        [(b.h if result.across else b.w) / 2 for b in boxes.values()]
        + [RADIUS + 4 + (SMALL * LINE if result.across else text_width(b.node.attrs.get("xlabel", ""), SMALL))
           for b in boxes.values() if b.circle]
    )  # fmt: skip
    far = [(b.h if result.across else b.w) / 2 for b in boxes.values()]
    for edge in result.skips:
        w, h = _label_size(_skip_lines(edge.label))
        far.append(_skip_offset(result, edge, order) + (h + 4 if result.across else w + 6))
    axis = MARGIN + (max(far) if result.across else near)
    for box in boxes.values():
        if result.across:
            box.y = axis
        else:
            box.x = axis
    if result.across:
        result.height = axis + near + MARGIN
    else:
        result.width = axis + max(far) + MARGIN
    return result


def _text(x: float, y: float, lines: list[str], size: float, anchor: str = "middle", color: str = TEXT_COLOR) -> str:
    """Lines centred on y (their middle), each a <text>: no tspan arithmetic for the browser."""
    top = y - (len(lines) - 1) * size * LINE / 2
    return "".join(
        f'<text x="{x:.1f}" y="{top + i * size * LINE:.1f}" font-size="{size:g}" text-anchor="{anchor}" '
        f'dominant-baseline="central" fill="{color}">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )


def _arrow(x: float, y: float, dx: float, dy: float, color: str) -> str:
    """An arrowhead ending at (x, y), pointing along (dx, dy) (a unit axis vector)."""
    bx, by = x - dx * ARROW * 1.6, y - dy * ARROW * 1.6
    points = f"{x:.1f},{y:.1f} {bx - dy * ARROW:.1f},{by + dx * ARROW:.1f} {bx + dy * ARROW:.1f},{by - dx * ARROW:.1f}"
    return f'<polygon points="{points}" fill="{color}"/>'


def _spine_edge(lay: _Layout, edge: Edge) -> str:
    a, b = lay.boxes[edge.source], lay.boxes[edge.target]
    if lay.across:
        x1, x2, y = a.x + a.w / 2, b.x - b.w / 2, a.y
        line = f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2 - ARROW:.1f}" y2="{y:.1f}" stroke="{EDGE_COLOR}"/>'
        label = _text((x1 + x2) / 2, y - SMALL * 0.8, [edge.label], SMALL) if edge.label else ""
        return line + _arrow(x2, y, 1, 0, EDGE_COLOR) + label
    x, y1, y2 = a.x, a.y + a.h / 2, b.y - b.h / 2
    line = f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2 - ARROW:.1f}" stroke="{EDGE_COLOR}"/>'
    label = _text(x + 6, (y1 + y2) / 2, [edge.label], SMALL, "start") if edge.label else ""
    return line + _arrow(x, y2, 0, 1, EDGE_COLOR) + label


def _skip_edge(lay: _Layout, edge: Edge) -> str:
    """The skip arc beside the chain, from the block's input to its sum, labelled with its kind."""
    a, b = lay.boxes[edge.source], lay.boxes[edge.target]
    off = _skip_offset(lay, edge, lay.order)
    color, lines = edge.attrs.get("color", EDGE_COLOR), _skip_lines(edge.label)
    if lay.across:
        far = a.y - off
        fork = (a.x + a.w / 2 + BRANCH, a.y)
        d = f"M{fork[0]:.1f},{fork[1]:.1f} V{far:.1f} H{b.x:.1f} V{b.y - RADIUS - ARROW:.1f}"
        head = _arrow(b.x, b.y - RADIUS, 0, 1, color)
        label = _text((a.x + b.x) / 2, far - (len(lines) * SMALL * LINE) / 2 - 2, lines, SMALL, color=color)
    else:
        far = a.x + off
        fork = (a.x, a.y + a.h / 2 + BRANCH)
        d = f"M{fork[0]:.1f},{fork[1]:.1f} H{far:.1f} V{b.y:.1f} H{b.x + RADIUS + ARROW:.1f}"
        head = _arrow(b.x + RADIUS, b.y, -1, 0, color)
        label = _text(far + 6, (a.y + b.y) / 2, lines, SMALL, "start", color)
    path = f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2" stroke-linejoin="round"/>'
    # it forks from the chain just after the block's input: two arcs meeting at one "+" stay apart
    dot = f'<circle cx="{fork[0]:.1f}" cy="{fork[1]:.1f}" r="2.5" fill="{color}"/>'
    return path + dot + head + label


def _node(lay: _Layout, box: _Box) -> str:
    attrs = box.node.attrs
    if box.circle:
        shape = f'<circle cx="{box.x:.1f}" cy="{box.y:.1f}" r="{RADIUS:g}" fill="white" stroke="{TEXT_COLOR}"/>'
        shape += _text(box.x, box.y, ["+"], FONT)
        if then := attrs.get("xlabel"):
            shape += (
                _text(box.x, box.y + RADIUS + SMALL, [then], SMALL)
                if lay.across
                else _text(box.x - RADIUS - 4, box.y, [then], SMALL, "end")
            )
        return shape
    size = FONT * float(attrs.get("fontsize", DOT_FONT)) / DOT_FONT
    fill = attrs.get("fillcolor", "white") if "filled" in attrs.get("style", "rounded,filled") else "white"
    rect = (
        f'<rect class="frame" x="{box.x - box.w / 2:.1f}" y="{box.y - box.h / 2:.1f}" width="{box.w:.1f}" '
        f'height="{box.h:.1f}" rx="{0.4 * FONT:g}" fill="{fill}" stroke="{TEXT_COLOR}"/>'
    )
    body = rect + _text(box.x, box.y, list(box.node.lines), size)
    part = attrs.get("id")
    if part is None:
        return body
    # a part opens its panel: focusable, a button to assistive technology, named by its text
    name = escape(part + ": " + "; ".join(box.node.lines[1:]) + ". Look inside")
    return f'<g class="part" data-part="{escape(part)}" tabindex="0" role="button" aria-label="{name}">{body}</g>'


def to_svg(plan: NetworkPlan, expand: bool = False, direction: str = "TB", stage: str | None = None) -> str:
    """The diagram to_dot describes, laid out: an <svg> whose text is FONT units high (data-font)."""
    lay = layout(plan, expand, direction, stage)
    parts = [_spine_edge(lay, e) for e in lay.spine] + [_skip_edge(lay, e) for e in lay.skips]
    parts += [_node(lay, lay.boxes[name]) for name in lay.order]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {lay.width:.1f} {lay.height:.1f}" '
        f'width="{lay.width:.1f}" height="{lay.height:.1f}" data-font="{FONT:g}" role="group" '
        f'aria-label="Block diagram, {"left to right" if lay.across else "top to bottom"}" '
        "font-family=\"Helvetica, Arial, 'Liberation Sans', sans-serif\">" + "".join(parts) + "</svg>"
    )
