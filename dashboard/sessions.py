"""Server-side login sessions: a random secret in the cookie, its SHA-256 in Postgres.

A session ends when it expires (DASHBOARD_SESSION_HOURS), at logout, when its user's
password changes, and when the user is disabled: the row says so, so every instance of
the dashboard refuses the cookie from then on, and open pages stop at their next action.
The cookie secret is 256 random bits, so a fast hash is enough to store it (as for
device tokens): the digest of a guess says nothing about a real secret.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import users
from salescontrol.config import settings


@dataclass(frozen=True)
class Session:
    session_id: UUID
    user: users.User
    expires_at: datetime


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def key(purpose: str) -> bytes:
    """A key for one purpose, derived from DASHBOARD_COOKIE_SECRET (never the secret itself)."""
    secret = settings().require("dashboard_cookie_secret")
    label = f"salescontrol-dashboard:{purpose}".encode()
    return hmac.new(secret.encode(), label, "sha256").digest()


def csrf_token(session_id: UUID) -> str:
    """The token a session's forms (logout, password) must send back."""
    return hmac.new(key("csrf"), session_id.bytes, "sha256").hexdigest()


def csrf_ok(session_id: UUID, token: str) -> bool:
    """Whether a form's token is the session's (compared in constant time, as bytes:
    compare_digest refuses str with characters beyond ASCII)."""
    return hmac.compare_digest(csrf_token(session_id).encode(), (token or "").encode())


def start(conn: Connection, user: users.User, address: str, user_agent: str) -> tuple[str, Session]:
    """A new session for `user`: the cookie's secret (shown once) and the session."""
    token = secrets.token_urlsafe(32)
    session_id = uuid.uuid4()
    expires = datetime.now(UTC) + timedelta(hours=settings().dashboard_session_hours)
    conn.execute(
        sa.text(
            "INSERT INTO dashboard_sessions (session_id, token_hash, user_id, expires_at, "
            "address, user_agent) VALUES (:s, :h, :u, :e, :a, :ua)"
        ),
        {
            "s": session_id,
            "h": _digest(token),
            "u": user.user_id,
            "e": expires,
            "a": address[:100],
            "ua": user_agent[:300],
        },
    )
    # Expired and revoked sessions are kept a day for the record, then dropped.
    conn.execute(
        sa.text(
            "DELETE FROM dashboard_sessions WHERE expires_at < now() - interval '1 day' "
            "OR revoked_at < now() - interval '1 day'"
        )
    )
    return token, Session(session_id, dataclasses.replace(user, session_id=session_id), expires)


_LIVE = """
SELECT s.session_id, s.user_id, s.expires_at FROM dashboard_sessions s
JOIN dashboard_users u ON u.user_id = s.user_id
WHERE {where} AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_enabled
"""


def _session(conn: Connection, where: str, params: dict) -> Session | None:
    row = conn.execute(sa.text(_LIVE.format(where=where)), params).first()
    if row is None:
        return None
    user = users.by_id(conn, row.user_id, row.session_id)
    return Session(row.session_id, user, row.expires_at) if user else None


def by_token(conn: Connection, token: str) -> Session | None:
    """The live session whose cookie secret this is, or None."""
    return _session(conn, "s.token_hash = :h", {"h": _digest(token)})


def by_id(conn: Connection, session_id: UUID) -> Session | None:
    """The live session with this public id, or None (ended, expired, user disabled)."""
    return _session(conn, "s.session_id = :s", {"s": session_id})


def revoke(conn: Connection, session_id: UUID) -> None:
    """End one session (logout)."""
    conn.execute(
        sa.text(
            "UPDATE dashboard_sessions SET revoked_at = now() "
            "WHERE session_id = :s AND revoked_at IS NULL"
        ),
        {"s": session_id},
    )


def revoke_all(conn: Connection, user_id: int) -> int:
    """End every session of a user (password change, disable); how many were live."""
    return conn.execute(
        sa.text(
            "UPDATE dashboard_sessions SET revoked_at = now() "
            "WHERE user_id = :u AND revoked_at IS NULL AND expires_at > now()"
        ),
        {"u": user_id},
    ).rowcount
