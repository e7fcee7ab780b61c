"""The device registry: registration, tokens, enable/disable, authentication, health.

Device tokens are 256-bit random values shown once and stored only as SHA-256 digests.
A fast hash is enough for secrets of that entropy, and looking a device up by the digest
reveals nothing an attacker could use, because the digest of a guess says nothing about
the real token.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.errors import Conflict, Forbidden, NotFound, Unauthorized

MIN_TOKEN_LENGTH = 32


@dataclass(frozen=True)
class Device:
    device_id: UUID
    point_id: UUID
    register_id: UUID
    is_enabled: bool
    last_seen_at: datetime | None
    last_health: dict[str, Any] | None
    last_health_at: datetime | None
    created_at: datetime
    point_name: str | None = None
    register_name: str | None = None
    kkt_reg_id: str | None = None  # the register's ККТ (receipts)

    def public(self) -> dict[str, Any]:
        """The device as the admin API shows it (no token material)."""
        return {
            "device_id": str(self.device_id),
            "point_id": str(self.point_id),
            "register_id": str(self.register_id),
            "point_name": self.point_name,
            "register_name": self.register_name,
            "kkt_reg_id": self.kkt_reg_id,
            "is_enabled": self.is_enabled,
            "last_seen_at": _iso(self.last_seen_at),
            "last_health": self.last_health,
            "last_health_at": _iso(self.last_health_at),
            "created_at": _iso(self.created_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def new_token() -> str:
    """A fresh device token: 256 random bits as hex, like `openssl rand -hex 32`."""
    return secrets.token_hex(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_SELECT = """
SELECT d.device_id, d.point_id, d.register_id, d.is_enabled, d.last_seen_at,
       d.last_health, d.last_health_at, d.created_at, p.name AS point_name,
       r.name AS register_name, r.kkt_reg_id
FROM devices d
JOIN points p ON p.point_id = d.point_id
JOIN registers r ON r.register_id = d.register_id
"""


def _device(row: sa.Row) -> Device:
    return Device(**row._mapping)


def register(
    conn: Connection,
    device_id: UUID,
    point_id: UUID,
    register_id: UUID,
    token: str | None = None,
    is_enabled: bool = True,
    point_name: str | None = None,
    register_name: str | None = None,
) -> tuple[Device, str | None]:
    """Register a device; return it and the generated token (None if one was given)."""
    if conn.execute(
        sa.text("SELECT 1 FROM devices WHERE device_id = :d"), {"d": device_id}
    ).first():
        raise Conflict(f"device {device_id} is already registered", "device_id")
    generated = None
    if token is None:
        token = generated = new_token()
    conn.execute(
        sa.text(
            "INSERT INTO points (point_id, name) VALUES (:p, :n) ON CONFLICT (point_id) "
            "DO UPDATE SET name = COALESCE(EXCLUDED.name, points.name)"
        ),
        {"p": point_id, "n": point_name},
    )
    owner = conn.execute(
        sa.text(
            "INSERT INTO registers (register_id, point_id, name) VALUES (:r, :p, :n) "
            "ON CONFLICT (register_id) DO UPDATE "
            "SET name = COALESCE(EXCLUDED.name, registers.name) RETURNING point_id"
        ),
        {"r": register_id, "p": point_id, "n": register_name},
    ).scalar_one()
    if owner != point_id:
        raise Conflict(f"register {register_id} belongs to another point", "register_id")
    if conn.execute(
        sa.text("SELECT 1 FROM devices WHERE token_hash = :h"), {"h": hash_token(token)}
    ).first():
        raise Conflict("this token is already used by another device", "token")
    inserted = conn.execute(
        sa.text(
            "INSERT INTO devices (device_id, point_id, register_id, token_hash, is_enabled) "
            "VALUES (:d, :p, :r, :h, :e) ON CONFLICT (device_id) DO NOTHING RETURNING 1"
        ),
        {"d": device_id, "p": point_id, "r": register_id, "h": hash_token(token), "e": is_enabled},
    ).first()
    if not inserted:
        raise Conflict(f"device {device_id} is already registered", "device_id")
    return get(conn, device_id), generated


def get(conn: Connection, device_id: UUID) -> Device:
    row = conn.execute(sa.text(_SELECT + " WHERE d.device_id = :d"), {"d": device_id}).first()
    if row is None:
        raise NotFound(f"device {device_id} is not registered", "device_id")
    return _device(row)


def list_devices(conn: Connection) -> list[Device]:
    rows = conn.execute(sa.text(_SELECT + " ORDER BY p.name, r.name, d.created_at"))
    return [_device(row) for row in rows]


def set_enabled(conn: Connection, device_id: UUID, enabled: bool) -> Device:
    conn.execute(
        sa.text("UPDATE devices SET is_enabled = :e, updated_at = now() WHERE device_id = :d"),
        {"e": enabled, "d": device_id},
    )
    return get(conn, device_id)


def set_kkt(conn: Connection, device_id: UUID, kkt_reg_id: str | None) -> Device:
    """Set (None: clear) the ККТ registration number of the device's register."""
    device = get(conn, device_id)
    taken = conn.execute(
        sa.text("SELECT 1 FROM registers WHERE kkt_reg_id = :k AND register_id <> :r"),
        {"k": kkt_reg_id, "r": device.register_id},
    ).first()
    if taken:
        raise Conflict(f"ККТ {kkt_reg_id} is already set on another register", "kkt_reg_id")
    conn.execute(
        sa.text("UPDATE registers SET kkt_reg_id = :k WHERE register_id = :r"),
        {"k": kkt_reg_id, "r": device.register_id},
    )
    return get(conn, device_id)


def rotate_token(conn: Connection, device_id: UUID, token: str | None = None) -> str | None:
    """Replace a device's token; the old one stops working at once."""
    get(conn, device_id)
    generated = None
    if token is None:
        token = generated = new_token()
    taken = conn.execute(
        sa.text("SELECT 1 FROM devices WHERE token_hash = :h AND device_id <> :d"),
        {"h": hash_token(token), "d": device_id},
    ).first()
    if taken:
        raise Conflict("this token is already used by another device", "token")
    conn.execute(
        sa.text(
            "UPDATE devices SET token_hash = :h, token_rotated_at = now(), updated_at = now() "
            "WHERE device_id = :d"
        ),
        {"h": hash_token(token), "d": device_id},
    )
    return generated


def authenticate(conn: Connection, token: str | None) -> Device:
    """The enabled device owning `token`; marks it as seen."""
    if not token:
        raise Unauthorized("missing device token (Authorization: Bearer <token>)")
    row = conn.execute(
        sa.text(
            "UPDATE devices SET last_seen_at = now() WHERE token_hash = :h RETURNING device_id"
        ),
        {"h": hash_token(token)},
    ).first()
    if row is None:
        raise Unauthorized("unknown device token")
    device = get(conn, row.device_id)
    if not device.is_enabled:
        raise Forbidden(f"device {device.device_id} is disabled")
    return device


def record_health(conn: Connection, device_id: UUID, report: dict[str, Any]) -> None:
    conn.execute(
        sa.text(
            "UPDATE devices SET last_health = CAST(:h AS jsonb), last_health_at = now(), "
            "last_seen_at = now() WHERE device_id = :d"
        ),
        {"h": json.dumps(report, ensure_ascii=False), "d": device_id},
    )
