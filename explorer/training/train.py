"""The training engine: whatever spec was designed, on whatever device there is.

Speed by design (measured in benchmarks/train_throughput.py): the data sits on the device as
uint8 and every batch is made there; loss and accuracy accumulate on the device and are read
every `recipe.log_every` steps; on CUDA, channels_last + bf16 autocast + fused optimizers, each
step replayed from a CUDA graph (explorer/training/steps.py), and torch.compile when the recipe asks for it.
A run goes through its phases (set up, one epoch at a time, evaluate, finish; a learning-rate
range test has its own short loop) and reports typed events (explorer/training/events.py) to a callback.
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..arch.checkpoint import load_for_fine_tuning
from ..arch.model import build_model, init_weights
from ..arch.spec import ResNetSpec, SpecError
from ..arch.weights_file import read_weights_file
from .data import DATASETS, DeviceBatches, ImageData, load_dataset, subset
from .devices import batch_dtype, check_compile_possible, device_name, pick_device, uses_channels_last, uses_cuda_graph
from .distributed import World, leave, world_from_env
from .evaluate import evaluate
from .events import DoneEvent, EpochEvent, Event, InfoEvent, StartEvent, StepEvent
from .lr_range import RANGE_STEPS, exploded, smoothed, verdict
from .recipe import Recipe, RecipeError, adapt_spec
from .stage_stats import StageStats, StageWatch
from .steps import EagerStep, make_train_step
from .timing import Clock, Pace

log = logging.getLogger(__name__)
Callback = Callable[[Event], None]
# cuDNN autotuning: each new conv shape is timed once (~5 s for d2l-resnet18 on an H200) for
# faster kernels on every later step; benchmarks/RESULTS.md has both settings measured.
CUDNN_BENCHMARK = False


@dataclass
class RunResult:
    status: str  # completed, stopped, diverged, failed
    message: str
    epochs: list[EpochEvent] = field(default_factory=list)
    confusion: list[list[int]] | None = None  # [true][predicted] on the test split
    misclassified: list[dict] = field(default_factory=list)  # index, true, pred, image (uint8 C,H,W)
    state_dict: dict[str, torch.Tensor] | None = None
    spec: ResNetSpec | None = None  # as trained (adapted to the dataset)
    checkpoint: str | None = None  # the weights' file, once written (a worker writes it, then drops state_dict)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


class _Stopped(Exception):
    """The stop flag was seen between two steps."""


class _Diverged(Exception):
    """The loss became non-finite; the message says at which step."""


@dataclass
class _Window:
    """Loss and images since the last step event, summed on the device (no synchronisation)."""

    loss: torch.Tensor
    images: int = 0
    start: float = field(default_factory=time.perf_counter)


@dataclass
class _Setup:
    """What a run's phases share once it is set up."""

    model: nn.Module
    batches: DeviceBatches
    step: EagerStep
    generator: torch.Generator
    steps_per_epoch: int
    fixed_shape: bool  # a CUDA graph or a compiled step: every batch the same size
    zero: torch.Tensor
    step_count: torch.Tensor  # steps so far, on the device
    first_bad: torch.Tensor  # the first step whose loss was not finite, -1 while none
    watch: StageWatch | None = None  # per-stage gradients and updates at logging steps (not range tests)
    stages: tuple[StageStats, ...] = ()  # what the watch read at the last watched step


def _read_checkpoint(path: str) -> dict[str, torch.Tensor]:
    try:  # memory-mapped where torch allows: the worker keeps no second copy of the weights
        return read_weights_file(path)
    except OSError as exc:
        raise RecipeError("weights", f"cannot read {path}: {exc.strerror or exc}") from None


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
        self.epochs: list[EpochEvent] = []
        self.step = 0  # steps taken so far
        self.clock = Clock()
        self.pace: Pace | None = None  # a training run's (a range test has its own short loop)

    def emit(self, event: Event) -> None:
        if self.world.is_main:
            self._on_event(event)

    # ----- the run -----------------------------------------------------------------------------
    def run(self) -> RunResult:
        self.clock = Clock()
        try:
            s = self._set_up()
            result = self._range_test(s) if self.recipe.range_test else self._train(s)
        except _Stopped:
            result = RunResult("stopped", f"stopped at step {self.step}", self.epochs, spec=self.spec)
            result.state_dict = None if self.recipe.range_test else _weights(self.model)  # a test's are no network
        except _Diverged as exc:
            result = RunResult("diverged", str(exc), self.epochs)
        except torch.cuda.OutOfMemoryError:
            r = self.recipe
            result = RunResult(
                "failed",
                f"out of memory on {self.device} at batch {r.batch_size} and {r.input_size} px: "
                "try a smaller batch size or input size",
            )
        except SpecError as exc:  # a dataset that cannot be had, a bad setting: said in one line
            result = RunResult("failed", str(exc))
        except Exception as exc:  # the app and the queue keep working; the traceback goes to the log
            log.exception("training run failed")
            result = RunResult("failed", f"{type(exc).__name__}: {exc}")
        finally:
            leave(self.world)
        return self._finish(result)

    def _finish(self, result: RunResult) -> RunResult:
        self.model = self.opt = None  # free the device memory before anyone waits on it
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        self.emit(DoneEvent(result.status, result.message, self.clock.elapsed))
        return result

    def _set_up(self) -> _Setup:
        r, device = self.recipe, self.device
        if r.compile:
            check_compile_possible(device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = CUDNN_BENCHMARK
        if self.data is None:
            self.data = load_dataset(r.dataset, self.data_dir, progress=lambda m: self.emit(InfoEvent(m)))
        self.data = subset(self.data, r.limit, r.test_limit)  # a no-op on data already cut to the recipe's
        data = self.data.to(device)
        channels_last = uses_channels_last(device)
        batches = DeviceBatches(data, r.input_size, batch_dtype(device), channels_last, augment=r.augment)
        # the run's own generator: its seed alone decides the weights and the batches, whatever
        # other threads draw from the global generator meanwhile
        init_generator = torch.Generator().manual_seed(r.seed)
        model = build_model(self.spec)
        init_weights(model, r.init, init_generator)
        if r.weights:  # fine-tuning: the checkpoint's weights, the head fresh where classes differ
            self.notes = [*self.notes, *load_for_fine_tuning(model, _read_checkpoint(r.weights))]
        model = model.to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        graphed = uses_cuda_graph(device, r, self.world)
        # a graph, and a compiled step, has one batch shape: an epoch's last partial batch is skipped
        # (each epoch reshuffles, so no image is left out for good)
        fixed_shape = graphed or r.compile
        steps_per_epoch = batches.steps_per_epoch(r.batch_size, self.world.size, drop_last=fixed_shape)
        total_steps = RANGE_STEPS if r.range_test else r.steps or steps_per_epoch * r.epochs
        step = make_train_step(model, r, device, self.world, total_steps)
        self.opt = step.opt
        self.emit(
            StartEvent(
                device=device_name(device),
                world_size=self.world.size,
                params=sum(p.numel() for p in model.parameters()),
                spec=self.spec.to_dict(),
                recipe=asdict(r),
                adapted=self.notes,
                normalize={"mean": list(data.mean), "std": list(data.std)},
                train_size=len(data.y_train),
                test_size=len(data.y_test),
                steps_per_epoch=steps_per_epoch,
                epochs=-(-RANGE_STEPS // steps_per_epoch) if r.range_test else self._epochs(steps_per_epoch),
                cuda_graph=graphed,
                compiled=r.compile,
            )
        )
        if r.compile:  # it compiles on the first step
            self.emit(InfoEvent("compiling the network (torch.compile): about 30 s the first time"))
        zero = torch.zeros((), device=device)
        return _Setup(
            model,
            batches,
            step,
            torch.Generator(device=device).manual_seed(r.seed),
            steps_per_epoch,
            fixed_shape,
            zero,
            torch.zeros((), device=device, dtype=torch.int64),
            torch.full((), -1, device=device, dtype=torch.int64),
            StageWatch(model) if self.world.is_main and not r.range_test else None,
        )

    def _steps(self, s: _Setup) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        """One epoch's training steps: each step's loss and correct predictions (device tensors) and
        its batch size. Ends the run (_Stopped) within one step of the stop flag."""
        s.step.net.train()
        r, world = self.recipe, self.world
        for x, y in s.batches.train_batches(r.batch_size, s.generator, world.rank, world.size, s.fixed_shape):
            if self.stop.is_set():
                raise _Stopped
            watched = s.watch is not None and self._logs_at(self.step + 1, s)
            if watched:
                s.watch.before()
            loss, correct = s.step(x, y)  # device tensors: no waiting for the GPU here
            if watched:  # a logging step: the host waits for the device here anyway
                s.stages = s.watch.after()
            self.step += 1
            s.step_count += 1
            s.first_bad = torch.where(~torch.isfinite(loss) & (s.first_bad < 0), s.step_count, s.first_bad)
            yield loss, correct, len(y)

    def _logs_at(self, step: int, s: _Setup) -> bool:
        """Whether the loss is read (and a step event sent) after global step `step`."""
        return step % self.recipe.log_every == 0 or step % s.steps_per_epoch == 0

    def _read_window(self, s: _Setup, window: _Window) -> tuple[float, bool]:
        """The window's mean loss over all processes and whether any step so far was not finite:
        the only points where the host waits for the device."""
        loss_sum, count, any_bad = self.world.sum(
            window.loss, torch.tensor(float(window.images), device=self.device), (s.first_bad >= 0).float()
        )
        return float(loss_sum) / float(count), float(any_bad) > 0

    def _epochs(self, steps_per_epoch: int) -> int:
        """The epochs the run goes through: the recipe's, or as many as its step budget takes."""
        steps = self.recipe.steps
        return -(-steps // steps_per_epoch) if steps else self.recipe.epochs

    def _train(self, s: _Setup) -> RunResult:
        r = self.recipe
        epochs = self._epochs(s.steps_per_epoch)
        total = r.steps or s.steps_per_epoch * r.epochs
        self.pace = Pace(total, epochs, len(s.batches.data.y_test))
        test: dict[str, Any] = {}
        trained = 0.0  # seconds of training so far (evaluations not counted): the time budget's clock
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            epoch_loss, epoch_correct, epoch_images = s.zero.clone(), s.zero.clone(), 0
            window = _Window(s.zero.clone())
            budget_spent = False
            for loss, correct, n in self._steps(s):
                window.loss += loss * n
                window.images += n
                epoch_correct += correct
                epoch_images += n
                steps_spent = r.steps is not None and self.step >= r.steps
                if self._logs_at(self.step, s) or steps_spent:
                    mean, bad = self._read_window(s, window)
                    if bad:  # this process's first bad step, or (another's) by now
                        first = int(s.first_bad) if int(s.first_bad) >= 0 else self.step
                        raise _Diverged(
                            f"loss became non-finite at step {first} (lr {r.lr:g}): lower the learning rate"
                        )
                    self.pace.train_seconds = trained + time.perf_counter() - start
                    self.pace.steps, self.pace.images = self.step, self.pace.images + window.images
                    now = self._emit_step(epoch, mean, window, self.step / total, s.stages)
                    s.stages = ()
                    epoch_loss += window.loss
                    window = _Window(s.zero.clone(), start=now)
                    budget_spent = steps_spent or self._time_is_up(trained + now - start)
                    if budget_spent:
                        break
            seconds = time.perf_counter() - start
            trained += seconds
            test = self._evaluate(s, final=epoch == epochs or budget_spent)
            self.pace.eval_seconds = time.perf_counter() - start - seconds
            self.pace.evaluations += 1
            self._emit_epoch(epoch, (epoch_loss + window.loss, epoch_correct, epoch_images), seconds, test)
            if budget_spent:
                break
        budget = ""
        if r.steps is not None:
            budget = f" (the step budget: {self.step} steps of {r.batch_size})"
        elif budget_spent:
            budget = f" (the time budget: {trained:.0f} s of training, {self.step} steps)"
        return RunResult(
            "completed",
            f"test accuracy {test['acc']:.4f} after {len(self.epochs)} epochs" + budget,
            self.epochs,
            test["confusion"],
            test["misclassified"],
            _weights(s.model),
            self.spec,
        )

    def _time_is_up(self, trained: float) -> bool:
        """Whether the recipe's time budget is spent; every process decides the same (the slowest
        one's clock), or a distributed run would wait forever on the ones that stopped."""
        if self.recipe.time_limit is None:
            return False
        late = torch.tensor(float(trained >= self.recipe.time_limit), device=self.device)
        return float(self.world.sum(late)[0]) > 0

    def _emit_epoch(
        self, epoch: int, sums: tuple[torch.Tensor, torch.Tensor, int], seconds: float, test: dict[str, Any]
    ) -> None:
        loss, correct, images = sums
        loss, correct, count = self.world.sum(loss, correct, torch.tensor(float(images), device=self.device))
        record = EpochEvent(
            epoch=epoch,
            train_loss=float(loss) / float(count),
            train_acc=float(correct) / float(count),
            test_loss=test["loss"],
            test_acc=test["acc"],
            images_per_sec=float(count) / seconds,
            elapsed=self.clock.elapsed,
            eta=self.pace.eta(),
        )
        self.epochs.append(record)
        self.emit(record)

    def _range_test(self, s: _Setup) -> RunResult:
        """RANGE_STEPS steps with the learning rate growing (lr_range.py), over as many epochs as
        that takes; every step's loss is read; a blow-up ends the test, as a result, not a failure."""
        losses: list[float] = []
        since = time.perf_counter()
        for epoch in range(1, -(-RANGE_STEPS // s.steps_per_epoch) + 1):
            for loss, _, n in self._steps(s):
                window = _Window(loss * n, n, since)
                mean, bad = self._read_window(s, window)
                losses.append(math.inf if bad else mean)
                done = self.step >= RANGE_STEPS or exploded(smoothed(losses))
                if math.isfinite(losses[-1]):
                    since = self._emit_step(epoch, losses[-1], window, 1.0 if done else self.step / RANGE_STEPS)
                if done:
                    return RunResult("completed", verdict(losses))
        return RunResult("completed", verdict(losses))  # an epoch came up short of RANGE_STEPS

    def _emit_step(
        self, epoch: int, loss: float, window: _Window, done: float, stages: tuple[StageStats, ...] = ()
    ) -> float:
        """A step event for the window's images; returns now."""
        now = time.perf_counter()
        self.emit(
            StepEvent(
                step=self.step,
                epoch=epoch,
                loss=loss,
                images_per_sec=window.images * self.world.size / max(now - window.start, 1e-9),
                progress=done,
                elapsed=self.clock.elapsed,
                eta=self.pace.eta() if self.pace is not None else self.clock.eta(done),
                stages=stages,
            )
        )
        return now

    def _evaluate(self, s: _Setup, final: bool) -> dict[str, Any]:
        return evaluate(
            s.model, s.batches, s.step.autocast, len(self.info.classes), self.recipe.batch_size, self.world, final
        )


def train(spec: ResNetSpec, recipe: Recipe, *args: Any, **kwargs: Any) -> RunResult:
    """Train `spec` with `recipe`: Trainer(spec, recipe, on_event, stop, data, data_dir).run()."""
    return Trainer(spec, recipe, *args, **kwargs).run()
