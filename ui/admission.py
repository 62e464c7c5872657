"""Heavy work in the server's process waits its turn, visibly (explorer/hall/admission.py).

Look inside on a sample, the ONNX export, torchinfo, Try it and opening a checkpoint each hold
their estimated bytes (from the plan's arithmetic) of one server-wide budget while they run; a
student whose turn has not come sees how many computations are ahead, not a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
import torch

from explorer.arch.layers import NetworkPlan
from explorer.hall.admission import Admission
from explorer.hall.budget import build_bytes, server_cores
from explorer.hall.offload import Offload
from ui import access


@st.cache_resource
def admission() -> Admission:
    """The server's one budget for heavy work (locked inside: sessions share it). What still runs
    in the server's process (look inside, Try it, opening a checkpoint) gets half the cores'
    threads, so that the pages keep the rest; torchinfo and the ONNX export run in a process of
    their own (offload below), which halved the other students' p95 under a hostile class
    (benchmarks/RESULTS.md)."""
    lim = access.limits()
    torch.set_num_threads(max(1, server_cores() // 2))  # the server's own process: training is in workers
    return Admission(lim.server_bytes, lim.heavy_slots)


def plan_bytes(plan: NetworkPlan, copies: int = 1) -> int:
    """What building the plan's network and one image's forward pass take, `copies` times (an
    ONNX export holds the weights twice: the module's and the file's)."""
    return build_bytes(plan) + (copies - 1) * plan.params * 4


@st.cache_resource(on_release=lambda pool: pool.close())  # a cleared cache leaves no idle process
def offload() -> Offload:
    """The processes torchinfo and the ONNX export run in (as many as the heavy work's slots)."""
    return Offload(access.limits().heavy_slots)


@contextmanager
def heavy(nbytes: int, what: str) -> Iterator[None]:
    """Run the body once the server's budget admits `nbytes`; meanwhile say how many are ahead."""
    note = st.empty()

    def waiting(ahead: int) -> None:
        others = f"{ahead} other computation{'s' if ahead != 1 else ''}"
        note.info(f"{what}: waiting for {others} on the server to finish (it runs a few at once)…")

    with admission().admit(nbytes, waiting):
        note.empty()
        yield
