"""With replicas (the `replicated` setting): the thread by which the process that feeds the machine's
workers takes in the runs queued on any replica, in the order of their ids, and the stop requests
left for them (run_queue.py). In the other replicas it tries meanwhile to become the feeder, so that
the queue goes on if the feeding process ends."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from ..arch.spec import spec_from_json
from ..hall.budget import training_cost
from .job import Job
from .recipe import recipe_from_dict
from .run_queue import INTAKE_SECONDS
from .runs import StoreError

if TYPE_CHECKING:
    from .jobs import JobRegistry

log = logging.getLogger(__name__)


class Intake:
    def __init__(self, jobs: JobRegistry) -> None:
        self.jobs = jobs
        self.seen = 0  # the last run id taken in

    def run(self) -> None:
        """Every INTAKE_SECONDS, and at once after a submission in this process, until the registry closes."""
        jobs = self.jobs
        while True:
            with jobs.lock:
                jobs.lock.wait(INTAKE_SECONDS)
            if jobs.closed:
                return
            try:
                if jobs.feeding or self._become_feeder():
                    self._take_in()
                    self._stop_requested()
            except (StoreError, OSError) as exc:  # the store is away a moment: the next look tries again
                log.warning("the replicas' queue could not be read: %s", exc)

    def _become_feeder(self) -> bool:
        jobs = self.jobs
        if not jobs.settings.train or not jobs.feeder.take():
            return False
        jobs.store.mark_interrupted()  # the runs a feeder that ended was training
        return True

    def _take_in(self) -> None:
        jobs = self.jobs
        for row in jobs.shared.queued(self.seen):
            self.seen = row["id"]
            if row["id"] in jobs.jobs:
                continue
            try:
                spec, recipe = spec_from_json(row["spec_json"]), recipe_from_dict(json.loads(row["recipe_json"]))
            except (ValueError, TypeError) as exc:  # written by another version of the app
                jobs.store.set_status(row["id"], "failed", f"the run could not be read: {exc}")
                continue
            device = row["queue"] or jobs.backend.device_type(recipe.device)
            job = Job(row["id"], row["name"], spec, recipe, device, row["experiment"], row["owner"])
            jobs.enqueue(job, row["address"], training_cost(spec, recipe, jobs.speed(device)))

    def _stop_requested(self) -> None:
        for run_id in self.jobs.shared.stop_requests():
            job = self.jobs.jobs.get(run_id)
            if job is not None and not job.stop_requested:
                self.jobs.stop_here(job)
