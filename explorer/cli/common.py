"""What every command shares: the one-line usage error, the argument parser that raises it, and
where a command's network comes from (--preset, --config, --weights, with --input and --classes)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..arch.checkpoint import matching_names, spec_from_state_dict
from ..arch.presets import FAMILY, PRESETS, preset
from ..arch.spec import MAX_JSON_BYTES, ResNetSpec, SpecError, input_from_text, spec_from_json
from ..arch.weights_file import read_weights_file
from ..hall.budget import limits

DB_HELP = "the run history: a SQLite file or postgresql://user@host/database (default: the store_url setting)"


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; we want one line
        raise UsageError(message)


def read_file(path: str, field: str, limit: int, allowed: str) -> bytes:
    """A file's bytes, once its size is known to be within `limit` (read whole, never past it)."""
    try:
        size = Path(path).stat().st_size
        if size > limit:
            raise SpecError(field, f"{path} is {size:,} bytes; {allowed} {limit:,}")
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {field} {path}: {exc.strerror or exc}") from None


def load_spec_file(path: str) -> ResNetSpec:
    return spec_from_json(read_file(path, "config", MAX_JSON_BYTES, "a spec file may be at most"))


def spec_from_weights(path: str) -> tuple[str, ResNetSpec]:
    """The network a checkpoint file holds, named after the preset or timm model it matches."""
    file = Path(path)
    try:  # the file, and its archive unpacked, within the budget the server builds within; memory-mapped
        tensors = read_weights_file(file, limits().build_bytes)
    except OSError as exc:
        raise UsageError(f"cannot read weights {path}: {exc.strerror or exc}") from None
    spec = spec_from_state_dict(tensors)
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


def add_source(parser: argparse.ArgumentParser, overrides: bool = True, weights: bool = False) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", metavar="NAME", help=f"one of: {', '.join(PRESETS)}, or a timm ResNet name")
    source.add_argument("--config", metavar="FILE", help="a JSON spec (docs/configuration.md)")
    if weights:
        source.add_argument("--weights", metavar="FILE", help="a .pt/.pth state_dict or .safetensors file")
    if overrides:
        parser.add_argument("--input", metavar="C,H,W", help="input channels, height, width")
        parser.add_argument("--classes", type=int, metavar="N", help="number of classes")
