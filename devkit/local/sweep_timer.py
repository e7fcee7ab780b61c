"""Cloud Scheduler's part in the local stack: call the sweeper function on a timer."""

from __future__ import annotations

import contextlib
import threading

import requests


class SweepTimer:
    """POST to the sweeper's `url` every `interval` seconds, in a daemon thread."""

    def __init__(self, url: str, interval: float) -> None:
        self.url, self.interval = url, interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking; the first call comes one interval from now."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._tick, name="sweep-timer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking, waiting up to 5 s for a call in progress."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _tick(self) -> None:
        while not self._stopping.wait(self.interval):
            # A sweep that fails is retried by the next tick, as the scheduler would.
            with contextlib.suppress(requests.RequestException):
                requests.post(self.url, timeout=max(self.interval, 30))
