"""Waiting for something eventually true, with a deadline: never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Timeout(AssertionError):
    """`poll_until` gave up (an AssertionError, so a test reports it as a failure)."""


def poll_until(
    check: Callable[[], T],
    timeout: float = 60.0,
    interval: float = 0.2,
    message: str | Callable[[], str] | None = None,
) -> T:
    """Call `check` until it returns something truthy and return that; raise Timeout
    (naming `message`, or the check) when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            what = message() if callable(message) else message
            raise Timeout(f"timed out after {timeout:g} s waiting for {what or check}")
        time.sleep(interval)
