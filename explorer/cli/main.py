"""`python -m explorer ...` (or `resnet-explorer ...`): presets, summary, code, train, runs, predict, serve.

Bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..arch.spec import SpecError
from ..training.runs import StoreError
from .common import Parser, UsageError
from .design import add_design_parsers
from .predict import add_predict_parser
from .runs import add_runs_parser
from .serve import add_serve_parser
from .train import add_train_parser


def build_parser() -> argparse.ArgumentParser:
    prog = "resnet-explorer" if sys.argv[0].endswith("resnet-explorer") else "python -m explorer"
    parser = Parser(prog=prog, description="ResNet Explorer: describe, analyse, train ResNets.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_design_parsers(sub)
    add_train_parser(sub)
    add_runs_parser(sub)
    add_predict_parser(sub)
    add_serve_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, rest = parser.parse_known_args(argv)
        if args.command == "serve":  # Streamlit's own options follow, whatever they look like
            args.streamlit_args = rest
        elif rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return args.run(args)
    except (UsageError, SpecError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `python -m explorer summary ... | head`
        return 0
