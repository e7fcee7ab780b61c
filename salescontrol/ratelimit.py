"""Per-device token buckets kept in Postgres, shared by every function instance.

A bucket holds at most `burst` tokens and refills at `rate_per_min`; each request takes
one. The read-refill-take is one INSERT ... ON CONFLICT DO UPDATE, so the row lock makes
concurrent requests of one device (on any instance) take tokens one after the other.
"""

from __future__ import annotations

import math
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.errors import SalesControlError


class RateLimited(SalesControlError):
    """Too many requests; retry after `retry_after_sec`."""

    def __init__(self, retry_after_sec: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after_sec} s")
        self.retry_after_sec = retry_after_sec


UPLOADS, HEARTBEATS = "upload_rate_buckets", "heartbeat_rate_buckets"  # one bucket each

_TAKE = """
    WITH refilled AS (
        SELECT LEAST(:burst, b.tokens
                     + EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at) * :per_sec)
               AS available
        FROM {table} b WHERE b.device_id = :d FOR UPDATE
    )
    UPDATE {table} SET
        tokens = CASE WHEN refilled.available >= 1 THEN refilled.available - 1
                      ELSE refilled.available END,
        updated_at = clock_timestamp()
    FROM refilled WHERE device_id = :d
    RETURNING refilled.available
    """


def take(
    conn: Connection, device_id: UUID, rate_per_min: float, burst: int, table: str = UPLOADS
) -> None:
    """Take one token from the device's bucket in `table` or raise RateLimited."""
    if rate_per_min <= 0:
        return  # limiting is off
    conn.execute(
        sa.text(
            f"INSERT INTO {table} (device_id, tokens, updated_at) "
            "VALUES (:d, :burst, clock_timestamp()) ON CONFLICT (device_id) DO NOTHING"
        ),
        {"d": device_id, "burst": burst},
    )
    per_sec = rate_per_min / 60.0
    available = conn.execute(
        sa.text(_TAKE.format(table=table)), {"d": device_id, "burst": burst, "per_sec": per_sec}
    ).scalar_one()
    if available < 1:
        raise RateLimited(max(1, math.ceil((1 - available) / per_sec)))
