"""The command line (`python -m explorer`): summary, code, train, runs, predict."""

from .main import main

__all__ = ["main"]
