"""DOT for the step-by-step residual block (the Why-residuals page and lecture mode)."""

from __future__ import annotations

from collections.abc import Sequence

from explorer import fmt
from explorer.inspect.teaching import BlockStep

MAIN, SKIP, SUM = "#eef7ee", "#fff4e6", "#e8eef7"


def walkthrough_dot(steps: Sequence[BlockStep]) -> str:
    """The first len(steps) operations of a block, each with the shape it outputs."""
    lines = [
        "digraph block {",
        '  rankdir=TB; nodesep=0.6; ranksep=0.25; bgcolor="transparent";',
        '  node [fontname="Helvetica", fontsize=16, shape=box, style="rounded,filled", fillcolor="white"];',
        '  edge [fontname="Helvetica", fontsize=14, color="#555555"];',
    ]
    previous, shortcut = None, None
    for i, step in enumerate(steps):
        name = f"s{i}"
        fill = {"main": MAIN, "shortcut": SKIP, "sum": SUM}[step.branch]
        params = f"\\n{step.params:,} params" if step.params else ""
        lines.append(f'  {name} [label="{step.label}\\n{fmt.shape(step.shape)}{params}", fillcolor="{fill}"];')
        if step.branch == "shortcut":
            # beside the branch's last layer, so x visibly goes around the block to the sum below
            lines.append(f'  s0 -> {name} [color="#d9480f", penwidth=2, constraint=false];')
            lines.append(f"  {{rank=same; {previous}; {name}}}")
            shortcut = name
            continue
        if previous is not None:
            lines.append(f"  {previous} -> {name};")
        if step.label.startswith("F(x) + x") and shortcut is not None:
            lines.append(f'  {shortcut} -> {name} [color="#d9480f", penwidth=2, label=" x "];')
        previous = name
    lines.append("}")
    return "\n".join(lines)
