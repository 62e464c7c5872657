"""The block diagram as DOT text (rendered in the browser by st.graphviz_chart).

Each drawn block shows its main path, the addition and its skip connection labelled with the
shortcut's kind; edges carry tensor shapes. Collapsed (the default), a stage is drawn as its first
block and one "block xN" for the identical rest, so ResNet-152 fits a projector screen.
"""

from __future__ import annotations

from . import fmt
from .plan import SHORTCUT_LABEL, BlockPlan, LayerPlan, NetworkPlan, StagePlan

FONT = 'fontname="Helvetica"'
STEM_COLOR = "#e8eef7"
BLOCK_COLOR = "#eef7ee"
SKIP_COLOR = {"identity": "#2a7ab9", "zero-pad": "#8a55b5", "projection": "#d9480f", "avgpool-projection": "#c2255c"}


def _quote(text: str) -> str:
    # labels use DOT's own "\n" line breaks, so only quotes are escaped
    return '"' + text.replace('"', '\\"') + '"'


def _conv_line(layer: LayerPlan) -> str:
    groups = f", g{layer.groups}" if layer.groups > 1 else ""
    stride = f", /{layer.stride}" if layer.stride > 1 else ""
    return f"{layer.kernel}×{layer.kernel} conv, {layer.out_shape[0]}{groups}{stride}"


def _main_path_label(block: BlockPlan) -> str:
    """The branch F(x), one line per conv, BN and ReLU folded in as the paper draws it."""
    lines = []
    main = [layer for layer in block.layers if layer.branch == "main"]
    has_bn = any(layer.kind == "norm" for layer in main)
    convs = [layer for layer in main if layer.kind == "conv"]
    for i, conv in enumerate(convs):
        if block.kind == "preact":
            lines.append(("BN, ReLU, " if has_bn else "ReLU, ") + _conv_line(conv))
        else:
            last = i == len(convs) - 1
            lines.append(_conv_line(conv) + (", BN" if has_bn else "") + ("" if last else ", ReLU"))
    return "\\n".join(lines)


def _shortcut_label(block: BlockPlan) -> str:
    label = SHORTCUT_LABEL[block.shortcut]
    conv = next((layer for layer in block.layers if layer.branch == "shortcut" and layer.kind == "conv"), None)
    if conv is not None:
        label += f" ({conv.out_shape[0]}{', /' + str(block.stride) if block.stride > 1 else ''})"
    elif block.shortcut == "zero-pad":
        label += f" (+{block.out_shape[0] - block.in_shape[0]} ch{', /2' if block.stride > 1 else ''})"
    return label


class _Dot:
    def __init__(self, direction: str) -> None:
        self.lines = [
            "digraph resnet {",
            f'  rankdir={direction}; nodesep=0.25; ranksep=0.22; bgcolor="transparent";',
            f'  node [{FONT}, fontsize=13, shape=box, style="rounded,filled", fillcolor="white", margin="0.15,0.06"];',
            f'  edge [{FONT}, fontsize=11, color="#555555", arrowsize=0.7];',
        ]
        self.count = 0

    def node(self, label: str, **attrs: str) -> str:
        self.count += 1
        name = f"n{self.count}"
        extra = "".join(f", {k}={v}" for k, v in attrs.items())
        self.lines.append(f"  {name} [label={_quote(label)}{extra}];")
        return name

    def edge(self, a: str, b: str, label: str = "", **attrs: str) -> None:
        extra = "".join(f", {k}={v}" for k, v in attrs.items())
        text = f"label={_quote(' ' + label + ' ')}" if label else 'label=""'
        self.lines.append(f"  {a} -> {b} [{text}{extra}];")

    def text(self) -> str:
        return "\n".join([*self.lines, "}"])


def _draw_block(dot: _Dot, source: str, block: BlockPlan, title: str, shape_in: str) -> str:
    """Draw x -> F(x) -> (+) with the skip edge from x to the sum; returns the output node."""
    branch = dot.node(f"{title}\\n{_main_path_label(block)}", fillcolor=_quote(BLOCK_COLOR))
    dot.edge(source, branch, shape_in)
    relu = block.kind != "preact"  # a pre-activation block adds nothing after the sum
    if block.shortcut == "none":
        add = dot.node("no skip" + (", ReLU" if relu else ""), shape="box", style="rounded", fontsize="11")
    else:
        add = dot.node("+", shape="circle", width="0.32", fixedsize="true", xlabel=_quote("ReLU") if relu else '""')
    dot.edge(branch, add, fmt.shape(block.out_shape))
    if block.shortcut != "none":
        color = _quote(SKIP_COLOR[block.shortcut])
        dot.edge(source, add, _shortcut_label(block), color=color, fontcolor=color, style="bold", constraint="false")
    return add


def _draw_stage(dot: _Dot, source: str, stage: StagePlan, expand: bool) -> str:
    blocks = stage.blocks
    shape_in = fmt.shape(stage.in_shape)
    if expand or len(blocks) <= 2:
        for block in blocks:
            source = _draw_block(dot, source, block, f"{block.name}", shape_in)
            shape_in = fmt.shape(block.out_shape)
        return source
    first, rest = blocks[0], blocks[1:]
    source = _draw_block(dot, source, first, f"{first.name}", shape_in)
    # the later blocks of a stage are identical: draw one, say how many
    title = f"{stage.name}.1–{len(blocks) - 1}: block ×{len(rest)}"
    return _draw_block(dot, source, rest[0], title, fmt.shape(first.out_shape))


def stem_steps(stem: StagePlan) -> list[str]:
    """What the stem does, in order: ["7×7 conv, 64, /2", "BN, ReLU", "3×3 max-pool, /2"]."""
    steps = [_conv_line(layer) for layer in stem.layers if layer.kind == "conv"]
    steps.append("BN, ReLU" if any(layer.kind == "norm" for layer in stem.layers) else "ReLU")
    return steps + ["3×3 max-pool, /2" for layer in stem.layers if layer.kind == "maxpool"]


def _stem_label(stem: StagePlan) -> str:
    return "stem\\n" + "\\n".join(stem_steps(stem))


def to_dot(plan: NetworkPlan, expand: bool = False, direction: str = "TB") -> str:
    """DOT source of the block diagram: stem, stages (collapsed unless `expand`), head."""
    dot = _Dot(direction)
    spec = plan.spec
    image = dot.node(f"input\\n{fmt.shape(plan.stem.in_shape)}", shape="box", style="rounded")
    stem = dot.node(_stem_label(plan.stem), fillcolor=_quote(STEM_COLOR))
    dot.edge(image, stem)
    source = stem
    for stage in plan.stages:
        source = _draw_stage(dot, source, stage, expand)
    head_lines = ["BN, ReLU"] if spec.block == "preact" else []
    head_lines += ["global avg-pool", f"fc, {spec.num_classes}"]
    head = dot.node("head\\n" + "\\n".join(head_lines), fillcolor=_quote(STEM_COLOR))
    dot.edge(source, head, fmt.shape(plan.head.in_shape))
    out = dot.node(f"{spec.num_classes} class scores", shape="box", style="rounded")
    dot.edge(head, out)
    return dot.text()
