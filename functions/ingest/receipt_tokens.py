"""Receipts tokens (table `receipt_tokens`): one per point, for `POST /api/v1/receipts`.

Like device tokens: 256 random bits shown once, stored only as a SHA-256 digest and
looked up by it (the digest of a guess says nothing about a real token).
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.devices import hash_token, new_token
from salescontrol.errors import Conflict, NotFound, Unauthorized


def rotate(conn: Connection, point_id: UUID, token: str | None = None) -> str | None:
    """Create or replace the point's token; the generated one (None if one was given)."""
    if not conn.execute(
        sa.text("SELECT 1 FROM points WHERE point_id = :p"), {"p": point_id}
    ).first():
        raise NotFound(f"point {point_id} is not registered (register a device there)", "point_id")
    generated = None
    if token is None:
        token = generated = new_token()
    taken = conn.execute(
        sa.text("SELECT 1 FROM receipt_tokens WHERE token_hash = :h AND point_id <> :p"),
        {"h": hash_token(token), "p": point_id},
    ).first()
    if taken:
        raise Conflict("this token is already used by another point", "token")
    conn.execute(
        sa.text(
            "INSERT INTO receipt_tokens (point_id, token_hash) VALUES (:p, :h) "
            "ON CONFLICT (point_id) DO UPDATE SET token_hash = :h, rotated_at = now()"
        ),
        {"p": point_id, "h": hash_token(token)},
    )
    return generated


def authenticate(conn: Connection, token: str | None) -> UUID:
    """The point whose receipts token this is."""
    if not token:
        raise Unauthorized("missing receipts token (Authorization: Bearer <token>)")
    point = conn.execute(
        sa.text("SELECT point_id FROM receipt_tokens WHERE token_hash = :h"),
        {"h": hash_token(token)},
    ).scalar_one_or_none()
    if point is None:
        raise Unauthorized("unknown receipts token")
    return point
