"""One admission control for heavy work in the server (issue 22): a memory and concurrency budget
for the whole process, waiting in turn (told how many are ahead) instead of failing."""

import operator
import threading

import pytest

from explorer import PRESETS, plan_network
from explorer.arch.spec import SpecError
from explorer.hall.admission import Admission
from explorer.hall.budget import BudgetError, build_bytes
from ui.admission import plan_bytes

WAIT = 30.0  # s: a generous bound for a thread to reach its wait (never a timing assertion)


def _hold(admission: Admission, nbytes: int, told: list[int]) -> tuple[threading.Thread, threading.Event]:
    """A computation that enters when admitted and stays until released."""
    inside, release = threading.Event(), threading.Event()

    def work() -> None:
        with admission.admit(nbytes, told.append, poll=0.01):
            inside.set()
            release.wait(WAIT)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.inside = inside
    return thread, release


def _waits_until(condition) -> bool:
    event = threading.Event()
    for _ in range(3000):
        if condition():
            return True
        event.wait(0.01)
    return False


def test_at_most_slots_run_at_once_and_the_next_is_told_how_many_are_ahead():
    admission, told = Admission(memory_bytes=1000, slots=2), []
    first, release_first = _hold(admission, 10, [])
    second, release_second = _hold(admission, 10, [])
    assert first.inside.wait(WAIT) and second.inside.wait(WAIT)
    third, release_third = _hold(admission, 10, told)
    assert _waits_until(lambda: told == [2]) and not third.inside.is_set()  # waiting for 2 others
    release_first.set()
    assert third.inside.wait(WAIT)
    for release in (release_second, release_third):
        release.set()
    for thread in (first, second, third):
        thread.join(WAIT)
    assert admission.used == admission.running == admission.waiting() == 0


def test_the_memory_budget_holds_and_the_queue_is_first_come_first_served():
    admission = Admission(memory_bytes=100, slots=10)
    big, release_big = _hold(admission, 70, [])
    assert big.inside.wait(WAIT)
    told_large, told_small = [], []
    large, release_large = _hold(admission, 60, told_large)  # 70 + 60 > 100: waits
    assert _waits_until(lambda: told_large == [1])
    small, release_small = _hold(admission, 10, told_small)  # would fit, but comes after the large one
    assert _waits_until(lambda: told_small == [2]) and not small.inside.is_set()
    release_big.set()
    assert large.inside.wait(WAIT) and small.inside.wait(WAIT)
    assert admission.used == 70
    for release in (release_large, release_small):
        release.set()
    large.join(WAIT), small.join(WAIT), big.join(WAIT)
    assert admission.used == 0


def test_what_can_never_fit_is_refused_at_once():
    with pytest.raises(BudgetError) as err, Admission(memory_bytes=2**30, slots=2).admit(3 * 2**30):
        pass
    assert str(err.value) == (
        "server_memory_gib: this needs about 3.0 GiB; the server's budget for such work is 1.0 GiB in all"
    )


def test_the_estimate_is_the_plans_arithmetic():
    plan = plan_network(PRESETS["resnet50"])
    assert plan_bytes(plan) == build_bytes(plan) == (plan.params + plan.activation_elements()) * 4
    assert plan_bytes(plan, copies=2) == build_bytes(plan) + plan.params * 4


def test_torchinfo_and_the_onnx_export_run_in_a_process_of_their_own(tmp_path):
    from explorer.arch.export import to_onnx
    from explorer.arch.model import build_model
    from explorer.hall.offload import Offload

    spec = PRESETS["resnet-mini"]
    pool = Offload(1)
    try:
        assert f"Total params: {plan_network(spec).params:,}" in pool.torchinfo(spec.to_json())
        assert len(pool.onnx(spec.to_json())) == len(to_onnx(build_model(spec), spec))  # the same graph
        (tmp_path / "noise.pt").write_bytes(b"GIF89a")
        with pytest.raises(SpecError) as err:
            pool.onnx(spec.to_json(), str(tmp_path / "noise.pt"))
        assert str(err.value) == "onnx: weights: noise.pt is truncated or not a PyTorch checkpoint"
        with pytest.raises(SpecError) as err:  # whatever the process raised comes back as a sentence
            pool._run(operator.truediv, 1, 0)
        assert str(err.value) == "server: the computation failed (ZeroDivisionError: division by zero); try again"
        assert f"Total params: {plan_network(spec).params:,}" in pool.torchinfo(spec.to_json())  # and it goes on
    finally:
        pool.close()
