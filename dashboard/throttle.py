"""Login throttling per user name and per client address, counted in Postgres.

Each login attempt is counted *before* its password is checked, in its own committed
statement: an attacker firing many guesses at once on several instances gets exactly
`limit` of them checked per window, not as many as run in parallel. The counter row is
locked by INSERT ... ON CONFLICT DO UPDATE, so concurrent attempts count one by one.
When a key reaches its limit it is locked for DASHBOARD_LOGIN_LOCKOUT_SEC; a success
forgets the user's count and takes its own attempt back from the address's count, so
only failures add up. `python -m dashboard users unlock NAME` lifts a user's lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Limit:
    key: str  # 'user:<name>' or 'address:<ip>'
    attempts: int  # allowed per window


def user_key(name: str) -> str:
    return f"user:{name.strip().lower()}"


def address_key(address: str) -> str:
    return f"address:{address}"


# A lock that ran out, or a window that passed without a lock, starts the count afresh.
_RESET = (
    "(CASE WHEN t.locked_until IS NOT NULL THEN t.locked_until <= now() "
    "ELSE t.window_start < now() - make_interval(secs => :window) END)"
)
_COUNT = sa.text(
    f"""
    INSERT INTO dashboard_login_throttle AS t (key, attempts, window_start, locked_until)
    VALUES (:key, 1, now(),
            CASE WHEN 1 >= :limit THEN now() + make_interval(secs => :window) END)
    ON CONFLICT (key) DO UPDATE SET
        attempts = CASE WHEN {_RESET} THEN 1 ELSE t.attempts + 1 END,
        window_start = CASE WHEN {_RESET} THEN now() ELSE t.window_start END,
        locked_until = CASE
            WHEN {_RESET} THEN
                CASE WHEN 1 >= :limit THEN now() + make_interval(secs => :window) END
            WHEN t.locked_until IS NOT NULL THEN t.locked_until
            WHEN t.attempts + 1 >= :limit THEN now() + make_interval(secs => :window)
        END
    RETURNING attempts, CAST(EXTRACT(EPOCH FROM locked_until - now()) AS float) AS wait
    """
)


def attempt(conn: Connection, limits: list[Limit], window_sec: int) -> int:
    """Count one attempt against every key: 0 if it may go on, else the seconds to wait.

    It returns rather than raises so that the caller commits the count either way (a
    refused attempt still counts against the address)."""
    conn.execute(
        sa.text(
            "DELETE FROM dashboard_login_throttle WHERE window_start < now() - "
            "make_interval(secs => :w * 2) AND (locked_until IS NULL OR locked_until < now())"
        ),
        {"w": window_sec},
    )
    waits = []
    for limit in limits:
        row = conn.execute(
            _COUNT, {"key": limit.key, "limit": limit.attempts, "window": window_sec}
        ).one()
        if row.attempts > limit.attempts:
            waits.append(row.wait or 1.0)
    return max(1, math.ceil(max(waits))) if waits else 0


def succeeded(conn: Connection, user: str, address: str) -> None:
    """A good login: forget the user's attempts and take this one back from the address."""
    conn.execute(sa.text("DELETE FROM dashboard_login_throttle WHERE key = :k"), {"k": user})
    conn.execute(
        sa.text(
            "UPDATE dashboard_login_throttle SET attempts = greatest(attempts - 1, 0) "
            "WHERE key = :k AND locked_until IS NULL"
        ),
        {"k": address},
    )


def unlock(conn: Connection, name: str) -> bool:
    """Lift a user's lock (the CLI's `users unlock`); whether there was a count to drop."""
    return bool(
        conn.execute(
            sa.text("DELETE FROM dashboard_login_throttle WHERE key = :k"), {"k": user_key(name)}
        ).rowcount
    )
