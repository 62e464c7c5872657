"""`python -m explorer train ...`: train a preset or a config from the command line.

Under `torchrun --nproc_per_node=N -m explorer train ...` it trains with DistributedDataParallel;
only rank 0 prints events and writes the run record.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from . import fmt
from .data import DATASETS
from .devices import pick_device
from .distributed import world_from_env
from .lr_range import test_name
from .recipe import D2L_RECIPE, DEVICES, OPTIMIZERS, PRECISIONS, RANGE_TEST, SCHEDULES, Recipe
from .runs import RunStore
from .train import Trainer


def add_train_parser(sub: Any, add_source: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    p = sub.add_parser("train", help="train a network and store the run in the history")
    add_source(p, False)
    d = Recipe()
    p.add_argument("--dataset", required=True, choices=list(DATASETS))
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="per process under torchrun")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument(
        "--schedule",
        choices=(*SCHEDULES, RANGE_TEST),
        default=d.schedule,
        help=f"{RANGE_TEST}: no training; ~100 steps with the lr growing from 1e-5 to 10, and the lr it suggests",
    )
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--resize", type=int, metavar="PX", help="input side in px (default: the dataset's own)")
    p.add_argument("--augment", action="store_true", help="random flips and translations on the device")
    p.add_argument("--limit", type=int, metavar="N", help="train on N images only")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--init", choices=["torchvision", "xavier"], help=f"default: xavier for d2l-resnet18, else {d.init}")
    p.add_argument("--precision", choices=PRECISIONS, default=d.precision)
    p.add_argument(
        "--compile", action="store_true", help="torch.compile the network (compiles about 30 s the first time)"
    )
    p.add_argument("--data-dir", metavar="DIR", help="dataset cache (default: the data folder's datasets/)")
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--db", metavar="FILE", help="run history database (default: the data folder's runs.sqlite)")
    p.add_argument("--no-store", action="store_true", help="do not record the run in the history")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per event on stdout")
    p.set_defaults(run=run_train)


def _recipe(args: argparse.Namespace) -> Recipe:
    """The options above are named after Recipe's fields; unset ones keep Recipe's defaults."""
    values = {name: getattr(args, name) for name in Recipe.__dataclass_fields__ if hasattr(args, name)}
    values = {name: value for name, value in values.items() if value is not None}
    values.setdefault("init", D2L_RECIPE.init if args.preset == "d2l-resnet18" else Recipe().init)
    return Recipe(**values)


def _printer(jsonl: bool) -> Callable[[dict[str, Any]], None]:
    def show(event: dict[str, Any]) -> None:
        if jsonl:
            print(json.dumps(event), flush=True)
            return
        kind = event["event"]
        if kind == "info":
            print(event["message"], flush=True)
        elif kind == "start":
            notes = "; ".join(event["adapted"]) or "as designed"
            if event["compiled"]:
                notes += "; compiled"
            print(
                f"training {event['params']:,} params on {event['device']} x{event['world_size']}: "
                f"{event['train_size']:,} images, {event['steps_per_epoch']} steps/epoch ({notes})",
                flush=True,
            )
        elif kind == "epoch":
            print(
                f"epoch {event['epoch']:>3}  train loss {event['train_loss']:.4f} acc {event['train_acc']:.4f}  "
                f"test loss {event['test_loss']:.4f} acc {event['test_acc']:.4f}  "
                f"{event['images_per_sec']:,.0f} img/s  elapsed {fmt.duration(event['elapsed'])}"
                f"  eta {fmt.duration(event['eta'] or 0)}",
                flush=True,
            )
        elif kind == "done":
            print(f"{event['status']}: {event['message']} ({fmt.duration(event['elapsed'])})", flush=True)

    return show


def run_train(args: argparse.Namespace) -> int:
    from .cli import spec_from_args  # the --preset/--config loader the other commands use

    title, spec = spec_from_args(args)
    recipe = _recipe(args)
    if recipe.schedule == RANGE_TEST:
        title = test_name(title)
    world = world_from_env(pick_device(recipe.device).type)
    store = run_id = None
    if world.is_main and not args.no_store:
        store = RunStore(args.db)
        run_id = store.create(title, spec.to_json(), recipe.to_json(), status="running")
    show = _printer(args.jsonl)
    stop = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        if store and event["event"] in ("start", "step", "epoch"):
            store.record_event(run_id, event)
        if stop.is_set():
            return
        try:
            show(event)
        except BrokenPipeError:  # `... --jsonl | head`: the reader left, so stop within a step
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python's own advice for closed pipes
            stop.set()

    result = Trainer(spec, recipe, on_event, stop, data_dir=args.data_dir, world=world).run()
    if store:
        store.finish(run_id, result)
        if not args.jsonl:
            print(f"stored as run {run_id} in {store.path}", file=sys.stderr)
            if (run := store.get(run_id)) and run.checkpoint:
                print(f"weights: {run.checkpoint} (torch.load(..., weights_only=True))", file=sys.stderr)
    return 0 if result.status == "completed" else 1
