"""`python -m explorer ...`: presets, summary, code, train, runs.

Bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from .. import fmt
from ..arch.analysis import Analysis, analyze_plan
from ..arch.checkpoint import matching_names, read_weights, spec_from_state_dict
from ..arch.codegen import to_code
from ..arch.plan import plan_network
from ..arch.presets import FAMILY, PRESETS, preset
from ..arch.spec import MAX_JSON_BYTES, ResNetSpec, SpecError, input_from_text, spec_from_json
from ..hall.budget import limits
from ..training.runs import StoreError


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; we want one line
        raise UsageError(message)


def _read_file(path: str, field: str, limit: int, allowed: str) -> bytes:
    """A file's bytes, once its size is known to be within `limit` (read whole, never past it)."""
    try:
        size = Path(path).stat().st_size
        if size > limit:
            raise SpecError(field, f"{path} is {size:,} bytes; {allowed} {limit:,}")
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {field} {path}: {exc.strerror or exc}") from None


def load_spec_file(path: str) -> ResNetSpec:
    return spec_from_json(_read_file(path, "config", MAX_JSON_BYTES, "a spec file may be at most"))


def spec_from_weights(path: str) -> tuple[str, ResNetSpec]:
    """The network a checkpoint file holds, named after the preset or timm model it matches."""
    # read whole: within the budget the server builds within
    data = _read_file(path, "weights", limits().build_bytes, "this machine reads at most")
    file = Path(path)
    spec = spec_from_state_dict(read_weights(data, file.name))
    names = matching_names(spec, FAMILY | PRESETS)
    return (names[0] if names else file.stem), spec


def spec_from_args(args: argparse.Namespace) -> tuple[str, ResNetSpec]:
    """The spec named by --preset, --config or --weights, with --input / --classes applied."""
    if args.preset:
        title, spec = args.preset, preset(args.preset)
    elif getattr(args, "weights", None):
        title, spec = spec_from_weights(args.weights)
    else:
        title, spec = Path(args.config).stem, load_spec_file(args.config)
    if getattr(args, "input", None):
        spec = replace(spec, input=input_from_text(args.input, "--input"))
    if getattr(args, "classes", None) is not None:
        spec = spec.with_classes(args.classes)
    return title, spec


def _add_source(parser: argparse.ArgumentParser, overrides: bool = True, weights: bool = False) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", metavar="NAME", help=f"one of: {', '.join(PRESETS)}, or a timm ResNet name")
    source.add_argument("--config", metavar="FILE", help="a JSON spec (README, 'Config format')")
    if weights:
        source.add_argument("--weights", metavar="FILE", help="a .pt/.pth state_dict or .safetensors file")
    if overrides:
        parser.add_argument("--input", metavar="C,H,W", help="input channels, height, width")
        parser.add_argument("--classes", type=int, metavar="N", help="number of classes")


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m explorer", description="ResNet Explorer: describe, analyse, train ResNets.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("presets", help="list the named networks").set_defaults(run=_cmd_presets)
    p = sub.add_parser("summary", help="shapes, parameters and MACs, layer by layer")
    _add_source(p, weights=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_cmd_summary)
    p = sub.add_parser("code", help="standalone PyTorch source in the d2l style")
    _add_source(p, weights=True)
    p.set_defaults(run=_cmd_code)
    from .train import add_train_parser  # the training command lives with the engine's options

    add_train_parser(sub, _add_source)
    from .runs import add_runs_parser

    add_runs_parser(sub)
    from .predict import add_predict_parser

    add_predict_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except (UsageError, SpecError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `python -m explorer summary ... | head`
        return 0
