"""`python -m explorer predict RUN IMAGE ...`: a stored run's network on pictures, from the command
line — what the Train page's "Try it on an image" shows, for a server reached over SSH."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..inspect.predict import PictureError, Predictor, can_predict, image_as_dataset_item, looks_inverted, open_picture
from ..training.data import DATASETS
from .common import DB_HELP, UsageError
from .runs import open_history


def add_predict_parser(sub: Any) -> None:
    p = sub.add_parser("predict", help="a stored run's network on pictures: its most likely classes")
    p.add_argument("run_id", type=int, metavar="RUN", help="the run's id (python -m explorer runs lists them)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="picture files (PNG, JPEG, ...)")
    p.add_argument(
        "--invert",
        choices=["auto", "yes", "no"],
        default="auto",
        help="invert the pictures (auto: where the dataset is light on dark and the picture's border is light)",
    )
    p.add_argument("--top", type=int, default=3, metavar="K", help="the K most likely classes (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object per picture, every class's probability")
    p.add_argument("--db", metavar="FILE|URL", help=DB_HELP)
    p.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:

    if args.top < 1:
        raise UsageError(f"top: {args.top} is out of range; allowed 1 and more")
    store = open_history(args.db)
    run = store.get(args.run_id) if store else None
    if run is None:
        raise UsageError(f"run: no run {args.run_id} in the history")
    if not can_predict(run):
        raise UsageError(f"run: run {args.run_id} has no stored weights to predict with (status {run.status})")
    dataset, predictor = DATASETS[run.recipe["dataset"]], Predictor.from_run(run)
    for name in args.images:
        try:
            picture = open_picture(name)
        except PictureError as exc:
            raise UsageError(f"images: cannot read {name} as a picture: {exc}") from None
        invert = args.invert == "yes" or (args.invert == "auto" and looks_inverted(picture, dataset))
        probabilities = predictor.probabilities(image_as_dataset_item(picture, dataset, invert))[0].tolist()
        ranked = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])
        if args.json:
            print(
                json.dumps(
                    {
                        "image": name,
                        "predicted": dataset.classes[ranked[0]],
                        "inverted": invert,
                        "probabilities": {dataset.classes[i]: probabilities[i] for i in ranked},
                    }
                )
            )
        else:
            best = ", ".join(f"{dataset.classes[i]} ({probabilities[i]:.1%})" for i in ranked[: args.top])
            print(f"{name}: {best}" + ("  [inverted]" if invert else ""))
    return 0
