"""The training engine: whatever spec was designed, on whatever device there is.

Speed by design (measured in benchmarks/train_throughput.py): the data sits on the device as
uint8 and every batch is made there; loss and accuracy accumulate on the device and are read
every `recipe.log_every` steps; on CUDA, channels_last + bf16 autocast + fused optimizers, each
step replayed from a CUDA graph (explorer/steps.py), and torch.compile when the recipe asks for it.
Events go to a callback as plain dicts (the CLI prints them as JSON lines).
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .data import DATASETS, DatasetInfo, DeviceBatches, ImageData, load_dataset
from .devices import (
    autocast_for,
    batch_dtype,
    check_compile_possible,
    device_name,
    pick_device,
    uses_channels_last,
    uses_cuda_graph,
)
from .distributed import World, leave, world_from_env
from .lr_range import RANGE_STEPS, exploded, lr_factor, smoothed, verdict
from .model import build_model, init_weights
from .recipe import Recipe
from .spec import ResNetSpec, SpecError
from .steps import EagerStep, GraphedStep

log = logging.getLogger(__name__)
Event = dict[str, Any]
Callback = Callable[[Event], None]
MISCLASSIFIED_KEPT = 32
# cuDNN autotuning: each new conv shape is timed once (~5 s for d2l-resnet18 on an H200) for
# faster kernels on every later step; benchmarks/RESULTS.md has both settings measured.
CUDNN_BENCHMARK = False


@dataclass
class RunResult:
    status: str  # completed, stopped, diverged, failed
    message: str
    epochs: list[Event] = field(default_factory=list)
    confusion: list[list[int]] | None = None  # [true][predicted] on the test split
    misclassified: list[dict] = field(default_factory=list)  # index, true, pred, image (uint8 C,H,W)
    state_dict: dict[str, torch.Tensor] | None = None
    spec: ResNetSpec | None = None  # as trained (adapted to the dataset)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def adapt_spec(spec: ResNetSpec, info: DatasetInfo, size: int) -> tuple[ResNetSpec, list[str]]:
    """The designed network, fitted to the dataset's channels, image size and classes."""
    notes = []
    i = spec.input
    if (i.channels, i.height, i.width) != (info.channels, size, size):
        notes.append(
            f"input {i.channels}x{i.height}x{i.width} -> {info.channels}x{size}x{size} for {info.title}"
            + (" (first conv adapted)" if i.channels != info.channels else "")
        )
        spec = spec.with_input(info.channels, size, size)
    if spec.num_classes != len(info.classes):
        notes.append(f"classifier {spec.num_classes} -> {len(info.classes)} classes")
        spec = spec.with_classes(len(info.classes))
    return spec, notes


def _optimizer(model: nn.Module, recipe: Recipe, device: torch.device, graphed: bool) -> torch.optim.Optimizer:
    fused = {"fused": True} if device.type == "cuda" else {}
    params = model.parameters()
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay, **fused)
    momentum = 0.9 if recipe.optimizer == "momentum" else 0.0
    # a CUDA graph replays the lr it was captured with unless the lr lives in device memory
    lr = torch.tensor(recipe.lr, device=device) if graphed else recipe.lr
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=recipe.weight_decay, **fused
    )


def _schedule(opt: torch.optim.Optimizer, recipe: Recipe, total_steps: int):
    if recipe.schedule == "onecycle":
        # momentum stays fixed (cycle_momentum=False): a captured graph could not follow it
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=recipe.lr, total_steps=total_steps, pct_start=0.25, cycle_momentum=False
        )
    if recipe.range_test:
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda index: lr_factor(index, recipe.lr))
    return None


def make_train_step(
    model: nn.Module, recipe: Recipe, device: torch.device, world: World, total_steps: int
) -> EagerStep:
    """The step a run calls once per batch, with its optimizer and schedule: DDP-wrapped under
    torchrun, compiled if the recipe says so, replayed from a CUDA graph where that works."""
    graphed = uses_cuda_graph(device, recipe, world)
    net = model
    if world.distributed:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if recipe.compile:
        net = torch.compile(net)  # shares the parameters: evaluation runs the eager `model`
    opt = _optimizer(model, recipe, device, graphed)
    schedule = _schedule(opt, recipe, total_steps)
    autocast = autocast_for(device, recipe.precision, cache=not graphed)
    step_args = (net, opt, schedule, autocast, recipe.label_smoothing)
    return GraphedStep(*step_args, batch_size=recipe.batch_size) if graphed else EagerStep(*step_args)


class _Clock:
    """Elapsed time and an ETA from the fraction done."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def eta(self, fraction: float) -> float | None:
        return self.elapsed * (1 - fraction) / fraction if fraction > 0 else None


class Trainer:
    """One training run. `run()` returns a RunResult and reports events to `on_event`."""

    def __init__(
        self,
        spec: ResNetSpec,
        recipe: Recipe,
        on_event: Callback | None = None,
        stop: threading.Event | None = None,
        data: ImageData | None = None,
        data_dir: str | Path | None = None,
        world: World | None = None,
    ) -> None:
        self.recipe = recipe
        self.device = pick_device(recipe.device)
        self.world = world or world_from_env(self.device.type)
        if self.device.type == "cuda" and self.world.distributed:
            self.device = torch.device("cuda", self.world.local_rank)
        self.info = DATASETS[recipe.dataset]
        self.spec, self.notes = adapt_spec(spec, self.info, recipe.input_size)
        self.stop = stop or threading.Event()
        self.data = data
        self.data_dir = data_dir
        self._on_event = on_event or (lambda event: None)

    def emit(self, event: Event) -> None:
        if self.world.is_main:
            self._on_event(event)

    # ----- the run -----------------------------------------------------------------------------
    def run(self) -> RunResult:
        clock = _Clock()
        try:
            return self._run(clock)
        except torch.cuda.OutOfMemoryError:
            return self._finish(
                clock,
                RunResult(
                    "failed",
                    f"out of memory on {self.device} at batch {self.recipe.batch_size} and "
                    f"{self.recipe.input_size} px: try a smaller batch size or input size",
                ),
            )
        except SpecError as exc:  # a dataset that cannot be had, a bad setting: said in one line
            return self._finish(clock, RunResult("failed", str(exc)))
        except Exception as exc:  # the app and the queue keep working; the traceback goes to the log
            log.exception("training run failed")
            return self._finish(clock, RunResult("failed", f"{type(exc).__name__}: {exc}"))
        finally:
            leave(self.world)
            if self.device.type == "cpu":
                # the flag is the calling thread's CPU state: left on, it would flush the tiny values
                # of whatever this thread computes next (a receptive-field probe, say) to zero
                torch.set_flush_denormal(False)

    def _finish(self, clock: _Clock, result: RunResult) -> RunResult:
        self.model = self.opt = None  # free the device memory before anyone waits on it
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        self.emit({"event": "done", "status": result.status, "message": result.message, "elapsed": clock.elapsed})
        return result

    def _run(self, clock: _Clock) -> RunResult:
        r, device, cuda = self.recipe, self.device, self.device.type == "cuda"
        if r.compile:
            check_compile_possible(device)
        torch.manual_seed(r.seed)
        if cuda:
            torch.backends.cudnn.benchmark = CUDNN_BENCHMARK
        else:
            torch.set_flush_denormal(True)  # tiny gradients as denormals slow CPU math several-fold
        if self.data is None:
            self.data = load_dataset(
                r.dataset, self.data_dir, r.limit, progress=lambda m: self.emit({"event": "info", "message": m})
            )
        data = self.data.to(device)
        channels_last = uses_channels_last(device)
        batches = DeviceBatches(data, r.input_size, batch_dtype(device), channels_last, augment=r.augment)
        model = build_model(self.spec).to(device)
        if r.init == "xavier":
            init_weights(model, "xavier")
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        graphed = uses_cuda_graph(device, r, self.world)
        # a graph, and a compiled step, has one batch shape: an epoch's last partial batch is skipped
        # (each epoch reshuffles, so no image is left out for good)
        fixed_shape = graphed or r.compile
        steps_per_epoch = batches.steps_per_epoch(r.batch_size, self.world.size, drop_last=fixed_shape)
        range_test = r.range_test  # RANGE_STEPS steps, over as many epochs as that takes
        epochs_run = -(-RANGE_STEPS // steps_per_epoch) if range_test else r.epochs
        total_steps = RANGE_STEPS if range_test else steps_per_epoch * r.epochs
        log_every = 1 if range_test else r.log_every  # the test reads every step's loss
        range_losses: list[float] = []
        train_step = make_train_step(model, r, device, self.world, total_steps)
        self.opt = train_step.opt
        autocast = train_step.autocast
        generator = torch.Generator(device=device).manual_seed(r.seed)
        self.emit(
            {
                "event": "start",
                "device": device_name(device),
                "world_size": self.world.size,
                "params": sum(p.numel() for p in model.parameters()),
                "spec": self.spec.to_dict(),
                "recipe": asdict(r),
                "adapted": self.notes,
                "normalize": {"mean": list(data.mean), "std": list(data.std)},  # what inference must repeat
                "train_size": len(data.y_train),
                "test_size": len(data.y_test),
                "steps_per_epoch": steps_per_epoch,
                "epochs": epochs_run,
                "cuda_graph": graphed,
                "compiled": r.compile,
            }
        )
        if r.compile:  # it compiles on the first step
            self.emit({"event": "info", "message": "compiling the network (torch.compile): about 30 s the first time"})
        zero = torch.zeros((), device=device)
        step_count = torch.zeros((), device=device, dtype=torch.int64)
        first_bad = torch.full((), -1, device=device, dtype=torch.int64)
        step, epochs, last_test = 0, [], None
        for epoch in range(1, epochs_run + 1):
            train_step.net.train()
            ep_loss, ep_correct, ep_n = zero.clone(), zero.clone(), 0
            win_loss, win_n, win_start = zero.clone(), 0, time.perf_counter()
            ep_start = time.perf_counter()
            for x, y in batches.train_batches(r.batch_size, generator, self.world.rank, self.world.size, fixed_shape):
                if self.stop.is_set():
                    # the weights so far are kept (a stopped long run is still worth having); no extra evaluation,
                    # so the run still ends within one step
                    kept = None if range_test else _weights(model)  # a range test's are no trained network
                    stopped = RunResult("stopped", f"stopped at step {step}", epochs, state_dict=kept, spec=self.spec)
                    return self._finish(clock, stopped)
                loss, correct = train_step(x, y)  # device tensors: no waiting for the GPU here
                step += 1
                step_count += 1
                first_bad = torch.where(~torch.isfinite(loss) & (first_bad < 0), step_count, first_bad)
                n = len(y)
                win_loss += loss * n
                ep_correct += correct
                win_n += n
                ep_n += n
                if step % log_every == 0 or step % steps_per_epoch == 0:
                    loss_sum, count, any_bad = self.world.sum(
                        win_loss, torch.tensor(float(win_n), device=device), (first_bad >= 0).float()
                    )
                    if range_test:  # a blow-up is where the test ends, not a failure
                        range_losses.append(float(loss_sum) / float(count) if float(any_bad) == 0 else math.inf)
                        if step >= RANGE_STEPS or exploded(smoothed(range_losses)):
                            if math.isfinite(range_losses[-1]):
                                self._emit_step(step, epoch, range_losses[-1], win_n, win_start, clock, 1.0)
                            return self._finish(clock, RunResult("completed", verdict(range_losses)))
                    elif float(any_bad) > 0:  # this process's first bad step, or (another's) by now
                        bad_step = int(first_bad) if int(first_bad) >= 0 else step
                        return self._finish(
                            clock,
                            RunResult(
                                "diverged",
                                f"loss became non-finite at step {bad_step} (lr {r.lr:g}): lower the learning rate",
                                epochs,
                            ),
                        )
                    now = self._emit_step(
                        step, epoch, float(loss_sum) / float(count), win_n, win_start, clock, step / total_steps
                    )
                    ep_loss += win_loss
                    win_loss, win_n, win_start = zero.clone(), 0, now
            if range_test:
                continue  # no evaluation: the test's weights are not a trained network
            train_seconds = time.perf_counter() - ep_start
            loss_sum, correct, count = self.world.sum(ep_loss, ep_correct, torch.tensor(float(ep_n), device=device))
            last_test = self._evaluate(model, batches, autocast, final=epoch == r.epochs)
            record = {
                "event": "epoch",
                "epoch": epoch,
                "train_loss": float(loss_sum) / float(count),
                "train_acc": float(correct) / float(count),
                "test_loss": last_test["loss"],
                "test_acc": last_test["acc"],
                "images_per_sec": float(count) / train_seconds,
                "elapsed": clock.elapsed,
                "eta": clock.eta(epoch / r.epochs),
            }
            epochs.append(record)
            self.emit(record)
        if range_test:  # ended above at its last step; here only if an epoch came up short
            return self._finish(clock, RunResult("completed", verdict(range_losses)))
        result = RunResult(
            "completed",
            f"test accuracy {last_test['acc']:.4f} after {r.epochs} epochs",
            epochs,
            last_test["confusion"],
            last_test["misclassified"],
            _weights(model),
            self.spec,
        )
        return self._finish(clock, result)

    def _emit_step(
        self, step: int, epoch: int, loss: float, images: int, since: float, clock: _Clock, done: float
    ) -> float:
        """A step event for the window of `images` images since `since`; returns now."""
        now = time.perf_counter()
        self.emit(
            {
                "event": "step",
                "step": step,
                "epoch": epoch,
                "loss": loss,
                "images_per_sec": images * self.world.size / (now - since),
                "progress": done,
                "elapsed": clock.elapsed,
                "eta": clock.eta(done),
            }
        )
        return now

    @torch.no_grad()
    def _evaluate(self, model: nn.Module, batches: DeviceBatches, autocast, final: bool) -> dict[str, Any]:
        model.eval()
        device, k = self.device, len(self.info.classes)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        confusion = torch.zeros(k * k, device=device, dtype=torch.int64)
        wrong = []
        # the training batch size, so the convolutions reuse the kernels cuDNN already chose
        for idx, x, y in batches.test_batches(self.recipe.batch_size, self.world.rank, self.world.size):
            with autocast:
                out = model(x)
            out = out.float()
            loss_sum += F.cross_entropy(out, y, reduction="sum")
            pred = out.argmax(1)
            correct += (pred == y).sum()
            confusion += torch.bincount(y * k + pred, minlength=k * k)
            if final and self.world.is_main and sum(len(w[0]) for w in wrong) < MISCLASSIFIED_KEPT:
                miss = pred != y
                wrong.append((idx[miss], y[miss], pred[miss]))
        n = torch.tensor(float(len(batches.data.y_test)), device=device)
        loss_sum, correct = self.world.sum(loss_sum, correct)
        confusion = self.world.sum_tensor(confusion)
        result = {"loss": float(loss_sum) / float(n), "acc": float(correct) / float(n), "confusion": None}
        result["misclassified"] = []
        if final:
            result["confusion"] = confusion.view(k, k).tolist()
            for idx, true, pred in wrong:
                for i, t, p in zip(idx.tolist(), true.tolist(), pred.tolist(), strict=True):
                    image = batches.data.x_test[i].cpu()
                    result["misclassified"].append({"index": i, "true": t, "pred": p, "image": image})
            result["misclassified"] = result["misclassified"][:MISCLASSIFIED_KEPT]
        return result


def train(spec: ResNetSpec, recipe: Recipe, *args: Any, **kwargs: Any) -> RunResult:
    """Train `spec` with `recipe`: Trainer(spec, recipe, on_event, stop, data, data_dir).run()."""
    return Trainer(spec, recipe, *args, **kwargs).run()
