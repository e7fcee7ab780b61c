"""Cloud Scheduler's part in the local stack: call each scheduled function on a timer.

In the cloud, Cloud Scheduler POSTs to the sweeper every 5 minutes and to the digest each
morning (Terraform's `functions.<name>.schedule`); locally each job ticks every
`interval` seconds (SWEEP_INTERVAL_SEC, DIGEST_INTERVAL_SEC). Both functions are
idempotent, so a tick more or less changes nothing but when work happens.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Job:
    """POST to `url` every `interval` seconds."""

    name: str
    url: str
    interval: float


class Scheduler:
    """Runs every job on its own interval, in one daemon thread."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking; each job's first call comes one interval from now."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, wait: float | None = 5.0) -> None:
        """Stop ticking, waiting up to `wait` seconds (None: until it ends) for a call in
        progress."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=wait)
            self._thread = None

    def _run(self) -> None:
        due = {job.name: time.monotonic() + job.interval for job in self.jobs}
        while self.jobs:
            job = min(self.jobs, key=lambda j: due[j.name])
            if self._stopping.wait(max(0.0, due[job.name] - time.monotonic())):
                return
            # A tick that fails is retried by the next one, as the scheduler would.
            with contextlib.suppress(requests.RequestException):
                requests.post(job.url, timeout=max(job.interval, 30))
            due[job.name] = time.monotonic() + job.interval
