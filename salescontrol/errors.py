"""Exceptions of SalesControl, named for what the caller must do.

SalesControlError
├── ConfigError        a setting is missing or invalid: fix the configuration
├── PrerequisiteError  a tool the local stack needs is not installed: install it
├── TransientError     try again later (the message is redelivered)
└── BadInput           the input itself is wrong: record the reason, do not retry
    ├── GaveUp         the work failed MAX_ATTEMPTS times: record it as failed, stop
    ├── Conflict       the input contradicts what is already stored
    ├── NotFound       the thing asked for does not exist
    ├── Unauthorized   no credentials, or unknown ones
    └── Forbidden      known credentials that may not do this
"""

from __future__ import annotations


class SalesControlError(Exception):
    """Root of every error SalesControl raises on purpose."""


class ConfigError(SalesControlError):
    """A setting is missing or invalid."""


class PrerequisiteError(SalesControlError):
    """A program the local stack needs is missing."""


class TransientError(SalesControlError):
    """A temporary failure: retry later."""


class BadInput(SalesControlError):
    """Input that can never succeed; `field` names the offending part when known."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class GaveUp(BadInput):
    """Work that failed MAX_ATTEMPTS times: recorded as REJECTED/FAILED, never retried."""

    def __init__(self, attempts: int, last_error: str | None) -> None:
        last = (last_error or "none recorded (the process died mid-way?)").partition("\n")[0]
        super().__init__(f"gave up after {attempts} attempts; last error: {last}"[:2000])


class Conflict(BadInput):
    """Input that contradicts what is already stored."""


class NotFound(BadInput):
    """The thing asked for does not exist."""


class Unauthorized(BadInput):
    """Missing or unknown credentials."""


class Forbidden(BadInput):
    """Valid credentials that are not allowed to do this (e.g. a disabled device)."""
