"""`resnet-explorer serve`: the app, as `streamlit run app.py` from the checkout, with any of Streamlit's
own options after it (`--server.address 0.0.0.0`, `--server.port 8502`, ...); with `--replicas N`,
N such processes behind HAProxy (replicas.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .common import UsageError

# The app's entry script sits beside the package in the checkout (`pip install -e .` keeps it there).
APP = Path(__file__).resolve().parents[2] / "app.py"


def add_serve_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the app (streamlit run app.py); Streamlit's own options may follow, e.g. --server.port 8502",
    )
    p.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="serve from N processes behind HAProxy (one per core or two; docs/course.md)",
    )
    p.set_defaults(run=run_serve, streamlit_args=[])


def streamlit_command(options: list[str]) -> list[str]:
    if not APP.exists():
        raise UsageError(f"serve runs the app from a source checkout, and {APP} is missing: pip install -e <checkout>")
    return [sys.executable, "-m", "streamlit", "run", str(APP), *options]


def run_serve(args: argparse.Namespace) -> int:
    if args.replicas != 1:
        from .replicas import run_replicas

        return run_replicas(args.replicas, streamlit_command([]), args.streamlit_args, APP.parent)
    command = streamlit_command(args.streamlit_args)
    os.chdir(APP.parent)  # .streamlit/config.toml is read from the working folder
    os.execv(command[0], command)  # Streamlit becomes this process: Ctrl-C and signals reach it
    return 0  # not reached
