"""d2l's train_ch6 loop against our engine: same model, data, recipe and device, in one run.

    python -m benchmarks.train_throughput --device cpu  --preset resnet-mini  --resize 28 --rounds 3
    python -m benchmarks.train_throughput --device cuda --preset d2l-resnet18 --resize 96 --epochs 10
    python -m benchmarks.train_throughput --quick    # 256 made-up images, batch 32, 2 rounds: seconds

(a) is a faithful re-implementation of d2l's loop (d2l.load_data_fashion_mnist + d2l.train_ch6):
torchvision's FashionMNIST with Resize + ToTensor in a DataLoader with 4 workers, Xavier init,
plain SGD, and per-batch float() of loss and accuracy (d2l's Accumulator). (b) is
explorer.training.train.Trainer with the same recipe. Images/s count wall time of the training epochs,
data loading included; each side reports its best epoch. With --rounds N the two sides alternate
single epochs, so both see the same drift of a shared machine's speed (10-20% over minutes here).
Test accuracy is measured after each epoch by both. --data-dir names a folder holding
FashionMNIST/raw (torchvision's layout); without it, --tiny-data trains on a few hundred made-up
images in a temporary folder (tests/idx.py), which shows that the script runs: --quick does, with no
DataLoader workers (no processes forked from the test suite's). Last:
`ratio: <N>x (explorer / d2l train_ch6, best epoch's images/s[; median of the rounds' ratios <M>x])`;
with --baseline-epochs 0 (ours only), `wall: <N> s (explorer, <e> epoch(s) with evaluation)`.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch._inductor.config as inductor_config
import torchvision
from torch import nn
from torch.utils import data
from torchvision import transforms

import explorer
import explorer.paths
from benchmarks.common import number, parse_args, print_figure
from explorer.arch.model import init_weights
from explorer.training.data import DATASETS
from explorer.training.events import EpochEvent, Event
from explorer.training.recipe import Recipe, adapt_spec
from explorer.training.train import Trainer
from tests.idx import write_idx  # made-up images, as the test suite trains on

# ----- (a) d2l, as in the book (d2l/torch.py), minus plotting; the type hints are ours --------------


class Accumulator:
    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args: float | torch.Tensor) -> None:
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=True)]

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


def load_data_fashion_mnist(
    batch_size: int, resize: int | None, root: str, workers: int = 4
) -> tuple[data.DataLoader, data.DataLoader]:
    trans = [transforms.ToTensor()]
    if resize:
        trans.insert(0, transforms.Resize(resize))
    trans = transforms.Compose(trans)
    mnist_train = torchvision.datasets.FashionMNIST(root=root, train=True, transform=trans, download=True)
    mnist_test = torchvision.datasets.FashionMNIST(root=root, train=False, transform=trans, download=True)
    return (
        data.DataLoader(mnist_train, batch_size, shuffle=True, num_workers=workers),
        data.DataLoader(mnist_test, batch_size, shuffle=False, num_workers=workers),
    )


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy_gpu(net: nn.Module, data_iter: data.DataLoader, device: torch.device) -> float:
    net.eval()
    metric = Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def train_ch6(
    net: nn.Module,
    train_iter: data.DataLoader,
    test_iter: data.DataLoader,
    num_epochs: int,
    lr: float,
    device: torch.device,
    max_steps: int | None = None,
) -> tuple[list[float], float]:
    """d2l's loop; returns each epoch's images/s (wall time, data loading included) and the last test
    accuracy."""
    init_weights(net, "xavier")  # d2l: nn.init.xavier_uniform_ on every Linear and Conv2d
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    per_epoch, test_acc = [], 0.0
    for _ in range(num_epochs):
        metric = Accumulator(3)
        net.train()
        start = time.perf_counter()
        for i, (X, y) in enumerate(train_iter):
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)  # noqa: E741 - d2l's name
            l.backward()
            optimizer.step()
            with torch.no_grad():
                metric.add(l * X.shape[0], accuracy(y_hat, y), X.shape[0])
            if max_steps and i + 1 >= max_steps:
                break
        per_epoch.append(metric[2] / (time.perf_counter() - start))
        test_acc = evaluate_accuracy_gpu(net, test_iter, device)
    return per_epoch, test_acc


# ----- the comparison -----------------------------------------------------------------------------


def _list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.0f}" for v in values) + "]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="d2l's train_ch6 vs explorer's engine")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--preset", default="resnet-mini")
    parser.add_argument("--resize", type=int, default=28)
    parser.add_argument("--epochs", type=int, default=2, help="epochs for our engine")
    parser.add_argument("--baseline-epochs", type=int, default=2, help="epochs for d2l's loop (0: ours only)")
    parser.add_argument("--baseline-steps", type=int, default=0, help="stop d2l's epochs after N steps (0: all)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--data-dir", default=None, help="folder holding FashionMNIST/raw")
    parser.add_argument("--tiny-data", action="store_true", help="made-up IDX files (unless --data-dir is given)")
    parser.add_argument("--workers", type=int, default=4, help="d2l's DataLoader workers (d2l uses 4)")
    parser.add_argument("--rounds", type=int, default=1, help="alternate N single epochs of each side")
    parser.add_argument("--compile", action="store_true", help="our engine with torch.compile (Recipe.compile)")
    parser.add_argument(
        "--max-autotune",
        action="store_true",
        help="with --compile: Inductor times its Triton templates against cuDNN for each convolution and "
        "tunes its own kernels' launch parameters (minutes of compiling)",
    )
    quick = {"tiny_data": True, "batch_size": 32, "epochs": 1, "baseline_epochs": 1, "rounds": 2, "workers": 0}
    args = parse_args(parser, argv, quick)
    if args.max_autotune:
        if not args.compile:
            parser.error("--max-autotune needs --compile")
        inductor_config.max_autotune = True
        inductor_config.coordinate_descent_tuning = True
    if args.data_dir or not args.tiny_data:
        return compare(args, args.data_dir or str(explorer.paths.datasets_dir()))
    with tempfile.TemporaryDirectory() as root:
        write_idx(Path(root), train=256, test=64)
        return compare(args, root)


def compare(args: argparse.Namespace, root: str) -> int:
    """Both loops on the Fashion-MNIST files under `root`; prints as it goes, the ratio last."""
    recipe = Recipe(
        dataset="fashion-mnist",
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        resize=args.resize,
        init="xavier",
        device=args.device,
        compile=args.compile,
    )
    spec, _ = adapt_spec(explorer.preset(args.preset), DATASETS["fashion-mnist"], args.resize)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(
        f"device: {name}; torch {torch.__version__}; {args.preset} at {args.resize} px, batch {args.batch_size}"
        + ("; ours compiled" if args.compile else "")
        + (" with max-autotune" if args.max_autotune else "")
    )

    torch.manual_seed(0)
    train_iter, test_iter = load_data_fashion_mnist(args.batch_size, args.resize, root, args.workers)

    def d2l_epochs(epochs: int) -> tuple[list[float], float]:
        net = explorer.build_model(spec)
        return train_ch6(net, train_iter, test_iter, epochs, args.lr, device, args.baseline_steps)

    def ours(epochs: int) -> tuple[list[EpochEvent], float]:
        epochs_done: list[EpochEvent] = []

        def record(event: Event) -> None:  # printed as they come, so a run cut off by a timeout still tells
            if isinstance(event, EpochEvent):
                epochs_done.append(event)
                if args.rounds == 1:  # rounds print their own lines
                    print(f"    epoch {event.epoch}: {event.images_per_sec:.0f} images/s", flush=True)

        start = time.perf_counter()
        result = Trainer(spec, dataclasses.replace(recipe, epochs=epochs), record, data_dir=root).run()
        if result.status != "completed":
            raise SystemExit(f"our run ended {result.status}: {result.message}")
        return epochs_done, time.perf_counter() - start

    what = "explorer / d2l train_ch6, best epoch's images/s"
    if args.rounds > 1:  # alternate one epoch each, so both sides see the same drift of the machine
        pairs = []
        for r in range(1, args.rounds + 1):
            (a,), _ = d2l_epochs(1)
            b = ours(1)[0][0].images_per_sec
            pairs.append((a, b))
            print(f"round {r}: d2l {a:8.0f} images/s, explorer {b:8.0f} images/s, ratio {b / a:.2f}x", flush=True)
        best_a, best_b = max(a for a, _ in pairs), max(b for _, b in pairs)
        print(f"(a) d2l train_ch6: {best_a:10.0f} images/s (best of {args.rounds} epochs)")
        print(f"(b) explorer:      {best_b:10.0f} images/s (best of {args.rounds} epochs)")
        median = number(statistics.median(b / a for a, b in pairs))
        print_figure("ratio", best_b / best_a, "x", f"{what}; median of the rounds' ratios {median}x")
        return 0

    d2l_ips = None
    if args.baseline_epochs > 0:
        per_epoch, d2l_acc = d2l_epochs(args.baseline_epochs)
        d2l_ips = max(per_epoch)
        print(f"(a) d2l train_ch6: {d2l_ips:10.0f} images/s  best epoch of {_list(per_epoch)}; test acc {d2l_acc:.4f}")
    epochs, wall = ours(args.epochs)
    ours_ips = max(e.images_per_sec for e in epochs)
    accs = " ".join(f"{e.test_acc:.4f}" for e in epochs)
    print(f"(b) explorer:      {ours_ips:10.0f} images/s  best epoch of {_list([e.images_per_sec for e in epochs])}")
    print(f"    explorer test accuracy after each epoch: {accs}")
    print(f"    explorer wall time for {args.epochs} epoch(s) with evaluation, data loading included: {wall:.1f} s")
    if d2l_ips:
        print_figure("ratio", ours_ips / d2l_ips, "x", what)
    else:
        print_figure("wall", wall, " s", f"explorer, {args.epochs} epoch(s) with evaluation")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
