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
from pathlib import Path
from typing import Any

from .. import fmt
from ..hall.budget import check_training, limits, training_cost
from ..training.data import DATASETS
from ..training.devices import pick_device
from ..training.distributed import world_from_env
from ..training.events import DoneEvent, EpochEvent, Event, InfoEvent, StartEvent, StepEvent, as_dict
from ..training.lr_range import test_name
from ..training.recipe import DEVICES, INITS, OPTIMIZERS, PRECISIONS, RANGE_TEST, SCHEDULES, Recipe, suggested_recipe
from ..training.runs import RunStore
from ..training.train import Trainer
from ..training.worker import set_process_state
from .common import DB_HELP, add_source, spec_from_args


def add_train_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a network and store the run in the history")
    add_source(p, overrides=False, weights=True)  # --weights FILE: that network, fine-tuned from its weights
    # every recipe option defaults to None: unset ones come from the recipe the Train page suggests
    # for the preset (d2l's own for d2l-resnet18), or from Recipe's defaults for a --config
    p.description = (
        "Options left out take the recipe the Train page suggests for the preset (for d2l-resnet18 d2l's own: "
        "SGD, lr 0.05, batch 256, 10 epochs, 96 px), or Recipe's defaults with --config; the first line says which."
    )
    p.add_argument("--dataset", required=True, choices=list(DATASETS))
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help="per process under torchrun")
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--weight-decay", type=float)
    p.add_argument(
        "--schedule",
        choices=(*SCHEDULES, RANGE_TEST),
        help=f"{RANGE_TEST}: no training; ~100 steps with the lr growing from 1e-5 to 10, and the lr it suggests",
    )
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--resize", type=int, metavar="PX", help="input side in px (0: the dataset's own)")
    p.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, help="random flips and translations on the device"
    )
    p.add_argument("--limit", type=int, metavar="N", help="train on N images only (0: all of them)")
    p.add_argument("--seed", type=int)
    p.add_argument("--init", choices=INITS)
    p.add_argument("--precision", choices=PRECISIONS)
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        help="torch.compile the network (compiles about 30 s the first time)",
    )
    p.add_argument("--data-dir", metavar="DIR", help="dataset cache (default: the data folder's datasets/)")
    p.add_argument("--device", choices=DEVICES)
    p.add_argument("--db", metavar="FILE|URL", help=DB_HELP)
    p.add_argument("--no-store", action="store_true", help="do not record the run in the history")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per event on stdout")
    p.set_defaults(run=run_train)


def _recipe(args: argparse.Namespace) -> tuple[Recipe, str]:
    """The recipe to train with, and where its unset values came from. The options above are named
    after Recipe's fields; those left out keep the preset's suggested recipe (suggested_recipe, as
    the Train page loads it), or Recipe's defaults for a config file. 0 turns resize and limit off."""
    values = {name: getattr(args, name) for name in Recipe.__dataclass_fields__ if hasattr(args, name)}
    values = {name: value for name, value in values.items() if value is not None}
    for name in ("resize", "limit"):
        if values.get(name) == 0:
            values[name] = None
    base, source = (
        (suggested_recipe(args.preset), f"suggested for {args.preset}") if args.preset else (Recipe(), "defaults")
    )
    return base.but(**values), source


def describe(recipe: Recipe) -> str:
    """The settings that matter most, in one line: 'momentum, lr 0.1 onecycle, batch 128, 5 epochs,
    native size, 20,000 images' (a range test has no lr or epochs of its own)."""
    ranged = recipe.range_test
    parts = [
        recipe.optimizer,
        *([] if ranged else [f"lr {recipe.lr:g} {recipe.schedule}"]),
        f"batch {recipe.batch_size}",
        *([] if ranged else [f"{recipe.epochs} epochs"]),
        f"{recipe.resize} px" if recipe.resize else "native size",
        f"at most {recipe.limit:,} images" if recipe.limit else "all images",
    ]
    parts += [word for word, on in (("augmented", recipe.augment), ("compiled", recipe.compile)) if on]
    if recipe.weights:
        parts.append(f"from the weights of {Path(recipe.weights).name}")
    return ", ".join(parts)


def _printer(jsonl: bool) -> Callable[[Event], None]:
    def show(event: Event) -> None:
        if jsonl:
            print(json.dumps(as_dict(event)), flush=True)
        elif isinstance(event, InfoEvent):
            print(event.message, flush=True)
        elif isinstance(event, StartEvent):
            notes = "; ".join(event.adapted) or "as designed"
            if event.compiled:
                notes += "; compiled"
            print(
                f"training {event.params:,} params on {event.device} x{event.world_size}: "
                f"{event.train_size:,} images, {event.steps_per_epoch} steps/epoch ({notes})",
                flush=True,
            )
        elif isinstance(event, EpochEvent):
            print(
                f"epoch {event.epoch:>3}  train loss {event.train_loss:.4f} acc {event.train_acc:.4f}  "
                f"test loss {event.test_loss:.4f} acc {event.test_acc:.4f}  "
                f"{event.images_per_sec:,.0f} img/s  elapsed {fmt.duration(event.elapsed)}"
                f"  eta {fmt.duration(event.eta or 0)}",
                flush=True,
            )
        elif isinstance(event, DoneEvent):
            print(f"{event.status}: {event.message} ({fmt.duration(event.elapsed)})", flush=True)

    return show


def run_train(args: argparse.Namespace) -> int:

    title, spec = spec_from_args(args)
    recipe, source = _recipe(args)
    if recipe.range_test:
        title = test_name(title)
    device = pick_device(recipe.device).type
    lim = limits(device=device)
    # nothing is built before the plan's arithmetic says it fits (BudgetError: exit 2, one line)
    check_training(training_cost(spec, recipe), recipe, lim, capped_time=False)
    set_process_state(device, low_priority=False)  # flush-to-zero once, before any thread pool
    world = world_from_env(device)
    if world.is_main and not args.jsonl:  # JSON lines carry the whole recipe in their start event
        print(f"recipe ({source}): {describe(recipe)}", flush=True)
    store = run_id = None
    if world.is_main and not args.no_store:
        store = RunStore(args.db, setting="--db" if args.db else None)
        run_id = store.create(title, spec.to_json(), recipe.to_json(), status="running")
    show = _printer(args.jsonl)
    stop = threading.Event()

    def on_event(event: Event) -> None:
        if store and isinstance(event, StartEvent | StepEvent | EpochEvent):
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
        store.finish(run_id, result, lim.checkpoint_bytes)
        if not args.jsonl:
            print(f"stored as run {run_id} in {store.where}", file=sys.stderr)
            if (run := store.get(run_id)) and run.checkpoint:
                print(f"weights: {run.checkpoint} (torch.load(..., weights_only=True))", file=sys.stderr)
    return 0 if result.status == "completed" else 1
