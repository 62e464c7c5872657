"""Who asks for a run, and how many runs they may have at once: per person, per client address,
and on the whole server. Counted over the runs queued or running, in this process's memory
(jobs.py) or in the store that replicas share (run_queue.py): the same rules either way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..hall.budget import BudgetError, Limits
from ..hall.settings import how_to_set


@dataclass(frozen=True)
class Submitter:
    """Who asks: a person (their browser's signed cookie, ui/access.py: quotas count per person),
    and whether it is the lecturer."""

    owner: str | None = None
    lecturer: bool = False
    address: str | None = None  # the client's address; None: the server's own machine (not counted)


LECTURER = Submitter("lecturer", lecturer=True)  # a one-user server's user, tests, scripts


class Held(Protocol):
    """A run queued or running, as far as the quotas care: whose it is, from which address."""

    owner: str | None
    address: str | None


def check_quotas(active: Sequence[Held], count: int, by: Submitter, lim: Limits) -> None:
    """BudgetError, naming the quota, if `count` more runs by `by` would pass one."""
    if len(active) + count > lim.queue_size:
        raise BudgetError(
            "queue_size",
            f"the server's queue holds {len(active)} queued or running runs and allows {lim.queue_size}; "
            f"try again when some have finished (raise {how_to_set('queue_size')})",
        )
    mine = sum(run.owner == by.owner for run in active)
    if not by.lecturer and mine + count > lim.runs_per_person:
        asked = f"{count} more" if count > 1 else "another"
        raise BudgetError(
            "runs_per_person",
            f"you have {mine} run(s) queued or running, in all your tabs, and asked for {asked}; each person "
            f"may have {lim.runs_per_person} at once: wait for one to end, or stop one "
            f"(the lecturer may raise {how_to_set('runs_per_person')})",
        )
    ours = sum(run.address == by.address for run in active)
    if not by.lecturer and by.address is not None and ours + count > lim.runs_per_address:
        raise BudgetError(
            "runs_per_address",
            f"{ours} run(s) from your computer ({by.address}) are queued or running, in all its tabs; "
            f"it may have {lim.runs_per_address} at once (the lecturer may raise {how_to_set('runs_per_address')})",
        )
