"""The block diagram as DOT text (rendered in the browser by st.graphviz_chart).

Each drawn block shows its main path, the addition and its skip connection labelled with the
shortcut's kind; edges carry tensor shapes. Collapsed (the default), a stage is drawn as its first
block and one "block xN" for the identical rest, so ResNet-152 fits a projector screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import fmt
from .layers import SHORTCUT_LABEL, BlockPlan, LayerPlan, NetworkPlan, StagePlan
from .spec import ResNetSpec

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
    dilation = f", dilation {layer.dilation}" if layer.dilation > 1 else ""
    return f"{layer.kernel}×{layer.kernel} conv, {layer.out_shape[0]}{groups}{stride}{dilation}"


def _word(layer: LayerPlan, spec: ResNetSpec) -> str:
    """A layer in a few words, for the drawn boxes."""
    if layer.kind == "conv":
        return _conv_line(layer)
    if layer.kind == "norm":
        return {"batch": "BN", "group": "GN", "frozen": "frozen BN"}[spec.norm]
    if layer.kind == "act":
        return "SiLU" if spec.activation == "silu" else "ReLU"
    if layer.kind == "se":
        return f"SE ({layer.in_shape[0]}→{layer.groups}→{layer.in_shape[0]})"
    if layer.kind == "eca":
        return f"ECA (k={layer.kernel})"
    if layer.kind == "blur":
        return f"blur, /{layer.stride}" if layer.stride > 1 else "blur"
    if layer.kind == "maxpool":
        return f"{layer.kernel}×{layer.kernel} max-pool" + (f", /{layer.stride}" if layer.stride > 1 else "")
    if layer.kind == "avgpool":
        return f"{layer.kernel}×{layer.kernel} avg-pool, /{layer.stride}"
    if layer.kind == "dropout":
        return f"dropout {spec.dropout:g}"
    if layer.kind == "global-avgpool":
        return "global avg-pool"
    if layer.kind == "fc":
        return f"fc, {layer.out_shape[0]}"
    return layer.kind


def _lines(layers: tuple[LayerPlan, ...] | list[LayerPlan], spec: ResNetSpec, preact: bool = False) -> list[str]:
    """One line per conv with its norm and activation folded in, as the paper draws it: after the
    conv for post-activation, before it for pre-activation; pools and attention on lines of their own."""
    lines: list[list[str]] = [[]]
    for layer in layers:
        word = _word(layer, spec)
        alone = layer.kind in ("se", "eca", "maxpool", "avgpool", "blur", "global-avgpool", "dropout", "fc")
        if alone or (layer.kind == "conv" and not preact and lines[-1]):
            lines.append([])
        lines[-1].append(word)
        if alone or (layer.kind == "conv" and preact):
            lines.append([])
    return [", ".join(line) for line in lines if line]


def _main_path_label(block: BlockPlan, spec: ResNetSpec) -> str:
    """The branch F(x), one line per conv."""
    main = [layer for layer in block.layers if layer.branch == "main"]
    return "\\n".join(_lines(main, spec, preact=block.kind in ("preact", "preact_bottleneck")))


def _shortcut_label(block: BlockPlan) -> str:
    label = SHORTCUT_LABEL[block.shortcut]
    conv = next((layer for layer in block.layers if layer.branch == "shortcut" and layer.kind == "conv"), None)
    if conv is not None:
        label += f" ({conv.out_shape[0]}{', /' + str(block.stride) if block.stride > 1 else ''})"
    elif block.shortcut == "zero-pad":
        label += f" (+{block.out_shape[0] - block.in_shape[0]} ch{', /2' if block.stride > 1 else ''})"
    return label


def _unquote(value: str) -> str:
    return value[1:-1].replace('\\"', '"') if value.startswith('"') else value


@dataclass(frozen=True)
class Node:
    """A drawn box (or the "+" circle): its text lines and its DOT attributes, unquoted."""

    name: str
    lines: tuple[str, ...]
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def skip(self) -> bool:
        """A skip connection: drawn beside the chain, not along it."""
        return self.attrs.get("constraint") == "false"


class _Dot:
    """Writes the DOT text and records the same nodes and edges for the server-side SVG (diagram_svg)."""

    def __init__(self, direction: str) -> None:
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
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
        self.nodes.append(Node(name, tuple(label.split("\\n")), {k: _unquote(v) for k, v in attrs.items()}))
        return name

    def edge(self, a: str, b: str, label: str = "", **attrs: str) -> None:
        extra = "".join(f", {k}={v}" for k, v in attrs.items())
        text = f"label={_quote(' ' + label + ' ')}" if label else 'label=""'
        self.lines.append(f"  {a} -> {b} [{text}{extra}];")
        self.edges.append(Edge(a, b, label, {k: _unquote(v) for k, v in attrs.items()}))

    def text(self) -> str:
        return "\n".join([*self.lines, "}"])


def _draw_block(dot: _Dot, source: str, block: BlockPlan, title: str, shape_in: str, spec: ResNetSpec) -> str:
    """Draw x -> F(x) -> (+) with the skip edge from x to the sum; returns the output node. The
    branch's box carries the block's module name as its SVG id: the page makes it clickable."""
    branch = dot.node(
        f"{title}\\n{_main_path_label(block, spec)}", fillcolor=_quote(BLOCK_COLOR), id=_quote(block.name)
    )
    dot.edge(source, branch, shape_in)
    after = [_word(layer, spec) for layer in block.layers if layer.branch == "out"]  # none after a pre-activation sum
    if block.shortcut == "none":
        add = dot.node(", ".join(["no skip", *after]), shape="box", style="rounded", fontsize="11")
    else:
        # "then ReLU": the activation follows the sum (a label beside "+" alone left the order open)
        then = "then " + ", ".join(after) if after else ""
        add = dot.node("+", shape="circle", width="0.32", fixedsize="true", xlabel=_quote(then))
    dot.edge(branch, add, fmt.shape(block.out_shape))
    if block.shortcut != "none":
        color = _quote(SKIP_COLOR[block.shortcut])
        dot.edge(source, add, _shortcut_label(block), color=color, fontcolor=color, style="bold", constraint="false")
    return add


def _draw_stage(dot: _Dot, source: str, stage: StagePlan, expand: bool, spec: ResNetSpec) -> str:
    blocks = stage.blocks
    shape_in = fmt.shape(stage.in_shape)
    if expand or len(blocks) <= 2:
        for block in blocks:
            source = _draw_block(dot, source, block, f"{block.name}", shape_in, spec)
            shape_in = fmt.shape(block.out_shape)
        return source
    first, rest = blocks[0], blocks[1:]
    source = _draw_block(dot, source, first, f"{first.name}", shape_in, spec)
    # the later blocks of a stage are identical: draw one, say how many
    title = f"{stage.name}.1–{len(blocks) - 1}: block ×{len(rest)}"
    return _draw_block(dot, source, rest[0], title, fmt.shape(first.out_shape), spec)


def stem_steps(stem: StagePlan, spec: ResNetSpec) -> list[str]:
    """What the stem does, in order: ["7×7 conv, 64, /2, BN, ReLU", "3×3 max-pool, /2"]."""
    return _lines(stem.layers, spec)


def _stem_label(stem: StagePlan, spec: ResNetSpec) -> str:
    return "stem\\n" + "\\n".join(stem_steps(stem, spec))


def to_dot(plan: NetworkPlan, expand: bool = False, direction: str = "TB", stage: str | None = None) -> str:
    """DOT source of the block diagram: stem, stages (collapsed unless `expand`), head; or, with
    `stage` ("layer3"), that stage's blocks alone between what comes in and what goes on (a deep
    network's diagram a page at a time). `direction`: TB (top to bottom) or LR (for slides)."""
    return graph(plan, expand, direction, stage).text()


def graph(plan: NetworkPlan, expand: bool = False, direction: str = "TB", stage: str | None = None) -> _Dot:
    """The diagram's nodes (in the order of the chain, input first) and edges, as to_dot draws them."""
    if direction not in ("TB", "LR"):
        raise ValueError(f"direction must be TB or LR, got {direction!r}")
    dot = _Dot(direction)
    spec = plan.spec
    if stage is not None:
        return _one_stage(dot, plan, stage, expand)
    image = dot.node(f"input\\n{fmt.shape(plan.stem.in_shape)}", shape="box", style="rounded")
    stem = dot.node(_stem_label(plan.stem, spec), fillcolor=_quote(STEM_COLOR), id='"stem"')
    dot.edge(image, stem)
    source = stem
    for part in plan.stages:
        source = _draw_stage(dot, source, part, expand, spec)
    head = dot.node("head\\n" + "\\n".join(_lines(plan.head.layers, spec)), fillcolor=_quote(STEM_COLOR), id='"head"')
    dot.edge(source, head, fmt.shape(plan.head.in_shape))
    out = dot.node(f"{spec.num_classes} class scores", shape="box", style="rounded")
    dot.edge(head, out)
    return dot


def _one_stage(dot: _Dot, plan: NetworkPlan, name: str, expand: bool) -> _Dot:
    names = [part.name for part in plan.stages]
    if name not in names:
        raise ValueError(f"stage must be one of {', '.join(names)}, got {name!r}")
    index = names.index(name)
    stage = plan.stages[index]
    before = "stem" if index == 0 else names[index - 1]
    after = "head" if index == len(names) - 1 else names[index + 1]
    source = dot.node(f"from {before}", shape="box", style="rounded")
    source = _draw_stage(dot, source, stage, expand, plan.spec)
    dot.edge(source, dot.node(f"to {after}", shape="box", style="rounded"), fmt.shape(stage.out_shape))
    return dot


def outline(plan: NetworkPlan) -> list[str]:
    """The diagram as a nested Markdown list, every block written out: what a screen reader reads
    instead of the picture (WCAG 2.1 1.1.1, a text alternative)."""
    spec = plan.spec
    lines = [
        f"- input: {fmt.shape(plan.stem.in_shape)}",
        f"- stem: {'; '.join(stem_steps(plan.stem, spec))}; out {fmt.shape(plan.stem.out_shape)}",
    ]
    for stage in plan.stages:
        count = f"{len(stage.blocks)} block{'s' if len(stage.blocks) > 1 else ''}"
        lines.append(f"- {stage.name}: {count}, out {fmt.shape(stage.out_shape)}")
        for block in stage.blocks:
            main = "; ".join(_main_path_label(block, spec).split("\\n"))
            skip = "no skip" if block.shortcut == "none" else "skip: " + _shortcut_label(block)
            lines.append(f"  - {block.name}: {main}; {skip}; out {fmt.shape(block.out_shape)}")
    lines.append(f"- head: {'; '.join(_lines(plan.head.layers, spec))}; out {spec.num_classes} class scores")
    return lines
