"""torchinfo and the ONNX export in a process of their own, not in the server's.

The export of resnet152 at 448 px traces the network in Python for tens of seconds and holds the
GIL meanwhile: run in the server's process (one at a time, on one torch thread) it took the other
students' page changes to a p95 of 4.2 s on two cores (benchmarks/RESULTS.md, the hostile class).
In a spawned process at low priority (nice 10, as the training workers) the pages come first.
The admission control (admission.py) still bounds how many run at once and their memory.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import types
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..arch.validate import SpecError

log = logging.getLogger(__name__)
LOW_PRIORITY = 10  # nice, as the training workers: the server's page threads win the CPU


def _start() -> None:
    import torch

    torch.set_num_threads(1)
    os.nice(LOW_PRIORITY)


def _ready() -> bool:
    return True


def _torchinfo(spec_json: str) -> tuple[bool, str]:
    import torchinfo

    from ..arch.model import build_model
    from ..arch.spec import spec_from_json

    spec = spec_from_json(spec_json)
    model = build_model(spec).eval()
    size = (1, spec.input.channels, spec.input.height, spec.input.width)
    return True, str(
        torchinfo.summary(model, input_size=size, verbose=0, depth=4, col_names=("output_size", "num_params"))
    )


def _onnx(spec_json: str, weights: str | None) -> tuple[bool, bytes | str]:
    """The design's ONNX bytes, with a stored checkpoint's weights where one is given; a refusal
    comes back as its sentence (exceptions with their own arguments do not cross processes)."""
    from ..arch.checkpoint import load_state_dict
    from ..arch.export import to_onnx
    from ..arch.model import build_model
    from ..arch.spec import spec_from_json
    from ..arch.weights_file import read_weights_file

    try:
        spec = spec_from_json(spec_json)
        model = build_model(spec).eval()
        if weights is not None:
            load_state_dict(model, read_weights_file(weights))
        return True, to_onnx(model, spec)
    except SpecError as exc:
        return False, str(exc)


class Offload:
    """A pool of spawned processes for one-off heavy computations (restarted if one dies)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        """Its processes started now, with no main script to re-run: spawn runs the parent's __main__
        file again in each child, and in Streamlit that is app.py."""
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start)
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to re-run
        try:
            ready = [pool.submit(_ready) for _ in range(self.workers)]  # each submit starts a process
        finally:
            sys.modules["__main__"] = main
        for answer in ready:
            answer.result()
        return pool

    def _run(self, fn, *args):
        try:
            ok, value = self.pool.submit(fn, *args).result()
        except BrokenProcessPool:  # killed (out of memory, say): the next call gets a fresh pool
            self.pool = self._new_pool()
            raise SpecError("server", "the computation's process died (out of memory?); try again") from None
        except Exception as exc:  # raised in the process (an allocation refused under load, say): a sentence
            log.warning("offloaded %s failed", fn.__name__, exc_info=True)
            raise SpecError("server", f"the computation failed ({type(exc).__name__}: {exc}); try again") from None
        if not ok:
            raise SpecError("onnx", value)
        return value

    def torchinfo(self, spec_json: str) -> str:
        return self._run(_torchinfo, spec_json)

    def onnx(self, spec_json: str, weights: str | None = None) -> bytes:
        return self._run(_onnx, spec_json, weights)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
