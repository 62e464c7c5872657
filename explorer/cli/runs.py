"""`python -m explorer runs`: the run history from the command line, for a GPU server reached over
SSH — the Train page's table, as text or JSON, and any runs' epochs as CSV."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .. import fmt, paths
from ..hall.settings import load_settings
from ..training.runs import RunRecord, RunStore
from .common import DB_HELP, UsageError


def add_runs_parser(sub: Any) -> None:
    p = sub.add_parser("runs", help="the run history: list the stored runs, or print their epochs as CSV")
    p.add_argument("--db", metavar="FILE|URL", help=DB_HELP)
    p.add_argument("--limit", type=int, default=20, metavar="N", help="the newest N runs (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON object per run")
    p.add_argument("--csv", type=int, nargs="+", metavar="ID", help="these runs' epochs as CSV")
    p.set_defaults(run=run_runs)


def _as_dict(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "experiment": run.experiment,
        "status": run.status,
        "message": run.message,
        "started": run.started,
        "duration": run.duration,
        "test_acc": run.test_acc,
        "params": run.params,
        "device": run.device_label,
        "recipe": run.recipe,
        "checkpoint": run.checkpoint,
    }


def _table(runs: list[RunRecord]) -> str:
    lines = [
        f"{'id':>4}  {'started':<16}  {'name':<26} {'dataset':<14} {'epochs':>6}  {'status':<11} "
        f"{'test acc':>8}  {'duration':>8}  device"
    ]
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.began))
        acc = f"{r.test_acc:.4f}" if r.test_acc is not None else "-"
        duration = fmt.duration(r.duration) if r.duration is not None else "-"
        epochs = "-" if r.range_test else r.recipe.get("epochs", "")  # a range test runs its own steps
        lines.append(
            f"{r.id:>4}  {started:<16}  {r.name[:26]:<26} {str(r.recipe.get('dataset', '')):<14} "
            f"{epochs:>6}  {r.status:<11} {acc:>8}  {duration:>8}  {r.device_label}"
        )
    return "\n".join(lines)


def open_history(db: str | None) -> RunStore | None:
    """The run history --db names (a SQLite file, an error if it is not there, or a postgresql://
    URL), else the store_url setting's, else the data folder's: None when no run was stored there yet."""
    location = db if db is not None else load_settings().store_url
    if "://" not in location:
        path = Path(location) if location else paths.runs_db()
        if not path.exists():
            if db:
                raise UsageError(f"db: no run history at {path}")
            return None
    return RunStore(location, setting="--db" if db else None)


def run_runs(args: argparse.Namespace) -> int:

    if args.limit < 1:
        raise UsageError(f"limit: {args.limit} is out of range; allowed 1 and more")
    store = open_history(args.db)
    if store is None:
        print(f"No runs yet ({paths.runs_db()} does not exist).", file=sys.stderr)
        return 0
    path = store.where
    if args.csv:
        if missing := [i for i in args.csv if store.get(i) is None]:
            raise UsageError(f"csv: no run {missing[0]} in {path}")
        sys.stdout.write(store.epochs_csv(args.csv))
        return 0
    runs = store.list(limit=args.limit)
    if args.json:
        for run in runs:
            print(json.dumps(_as_dict(run)))
    elif runs:
        print(_table(runs))
    else:
        print(f"No runs yet in {path}.", file=sys.stderr)
    return 0
