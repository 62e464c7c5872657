"""The store's answers on each engine: a run read back (`RunStore.get`, what a page polls) and a
training step written (`record_event`, what a run's relay does for each logged step), on SQLite and
on PostgreSQL; then on PostgreSQL with a new connection for every transaction, which is what each
process's kept connections save (explorer/store/postgres.py).

    python -m benchmarks.store_speed --url postgresql://explorer@db.example.org/scratch
    python -m benchmarks.store_speed --quick --url ...   # 10 of each: about a second

The URL names a PostgreSQL database the benchmark may create the store's tables in: a scratch one
(tests/postgres.py starts a throwaway server for the tests). Last line:
`kept connections: <N>x (...)`: how many times longer a read takes on a new connection.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import machine_load, parse_args, print_figure
from explorer.training.events import StepEvent
from explorer.training.runs import RunStore


def _median_ms(action: Callable[[int], object], repeats: int) -> float:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(store: RunStore, repeats: int) -> tuple[float, float]:
    """Median milliseconds of a run read back and of a step written."""
    run_id = store.create("benchmark", "{}", "{}", status="running")
    read = _median_ms(lambda _: store.get(run_id), repeats)
    step = _median_ms(lambda i: store.record_event(run_id, StepEvent(i, 1, 1.0, 900.0, 0.5, 0.5, 1.0)), repeats)
    store.delete(run_id)
    return read, step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a scratch PostgreSQL database: postgresql://user@host/db")
    parser.add_argument("--repeats", type=int, default=500, help="reads and writes of each kind (default 500)")
    args = parse_args(parser, argv, {"repeats": 10})
    with tempfile.TemporaryDirectory() as folder:
        results = {"SQLite": measure(RunStore(Path(folder) / "runs.sqlite"), args.repeats)}
    postgres = RunStore(args.url)
    results["PostgreSQL, kept connections"] = measure(postgres, args.repeats)
    postgres.engine.keep = 0
    results["PostgreSQL, a new connection each"] = measure(postgres, args.repeats)
    for engine, (read, step) in results.items():
        print(f"{engine:<36} a run read {read:7.2f} ms   a step written {step:7.2f} ms")
    fresh, kept = results["PostgreSQL, a new connection each"][0], results["PostgreSQL, kept connections"][0]
    print_figure(
        "kept connections",
        fresh / kept,
        "x",
        f"a run read on PostgreSQL: {fresh:.2f} ms on a new connection, {kept:.2f} ms on a kept one; "
        f"medians of {args.repeats}; load {machine_load()}",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
