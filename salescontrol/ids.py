"""Ids that arrive from outside (HTTP bodies, paths, messages): the one check they pass."""

from __future__ import annotations

import contextlib
from uuid import UUID

from salescontrol.errors import BadInput


def parse_id(value: object, field: str) -> UUID:
    """`value` as a UUID, or BadInput naming `field` (a UUID passes as it is)."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return UUID(value)
    raise BadInput(f"{field} must be a UUID, not {str(value)[:64]!r}", field)
