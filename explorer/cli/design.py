"""The commands about a network itself: presets, summary (shapes, parameters, MACs) and code."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from .. import fmt
from ..arch.analysis import Analysis, analyze_plan
from ..arch.codegen import to_code
from ..arch.plan import plan_network
from ..arch.presets import PRESETS
from .common import add_source, spec_from_args


def summary_dict(title: str, a: Analysis) -> dict:
    return {
        "name": title,
        "spec": a.spec.to_dict(),
        "total_params": a.total_params,
        "trainable_params": a.trainable_params,
        "macs": a.macs,
        "output_shape": list(a.output_shape),
        "activation_bytes_per_sample": a.activation_bytes(1),
        "stages": [asdict(s) | {"output_shape": list(s.output_shape)} for s in a.stages],
        "layers": [
            {
                "name": layer.name,
                "kind": layer.kind,
                "stage": layer.stage,
                "output_shape": list(layer.out_shape),
                "params": layer.params,
                "macs": layer.macs,
                "receptive_field": layer.rf,
                "detail": layer.detail,
                "branch": layer.branch,
            }
            for layer in a.layers
        ],
    }


def summary_text(title: str, a: Analysis) -> str:
    s = a.spec
    lines = [
        f"{title}: input {s.input.channels}x{s.input.height}x{s.input.width}, {s.num_classes} classes, "
        f"{s.block} blocks, shortcut {s.shortcut}{'' if s.residual else ' (plain: no skip connections)'}",
        "",
        f"{'layer':<28} {'kind':<15} {'detail':<30} {'output':>12} {'params':>12} {'MACs':>15} {'RF':>5}",
    ]
    for layer in a.layers:
        rf = "" if layer.rf is None else str(layer.rf)
        lines.append(
            f"{layer.name:<28} {layer.kind:<15} {layer.detail:<30} {fmt.shape(layer.out_shape):>12} "
            f"{layer.params:>12,} {layer.macs:>15,} {rf:>5}"
        )
    lines += ["", f"{'stage':<10} {'blocks':>6} {'output':>12} {'params':>14} {'MACs':>16}"]
    for st in a.stages:
        lines.append(f"{st.name:<10} {st.blocks:>6} {fmt.shape(st.output_shape):>12} {st.params:>14,} {st.macs:>16,}")
    lines += [
        "",
        f"Total params:      {a.total_params:,}",
        f"Trainable params:  {a.trainable_params:,}",
        f"MACs per image:    {a.macs:,} ({fmt.gmacs(a.macs)})",
        f"Output shape:      {tuple(a.output_shape)}",
        f"Activations:       {fmt.nbytes(a.activation_bytes(1))} per image for training (float32, estimate)",
    ]
    return "\n".join(lines)


def _cmd_presets(args: argparse.Namespace) -> int:
    for name, spec in PRESETS.items():
        plan = plan_network(spec)
        i = spec.input
        print(f"{name:<18} {plan.params:>12,} params  {fmt.gmacs(plan.macs):>13}  {i.channels}x{i.height}x{i.width}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    title, spec = spec_from_args(args)
    a = analyze_plan(plan_network(spec))
    print(json.dumps(summary_dict(title, a), indent=2) if args.json else summary_text(title, a))
    return 0


def _cmd_code(args: argparse.Namespace) -> int:
    title, spec = spec_from_args(args)
    sys.stdout.write(to_code(spec, title))
    return 0


def add_design_parsers(sub: Any) -> None:
    sub.add_parser("presets", help="list the named networks").set_defaults(run=_cmd_presets)
    p = sub.add_parser("summary", help="shapes, parameters and MACs, layer by layer")
    add_source(p, weights=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_cmd_summary)
    p = sub.add_parser("code", help="standalone PyTorch source in the d2l style")
    add_source(p, weights=True)
    p.set_defaults(run=_cmd_code)
