"""The dashboard's users: roles, the points they may see, argon2id password hashes.

owner   every point, every action (devices, re-runs, the pipeline's dead letters)
manager the points given to them: their data and the actions on it
viewer  the points given to them, read-only

Passwords are hashed with argon2id (argon2-cffi's RFC 9106 low-memory profile: 64 MiB,
3 passes), whose verification compares in constant time. A name that does not exist is
checked against a dummy hash, so an answer takes as long whether the name exists or not.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from uuid import UUID

import argon2
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard.queries import Reach
from salescontrol.errors import BadInput, Conflict, NotFound

MIN_PASSWORD_LENGTH = 10


class Role(enum.StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    VIEWER = "viewer"


@dataclass(frozen=True)
class User:
    """Who is looking at a page: the user, and the login (session) the page came with."""

    user_id: int
    name: str
    role: Role
    points: frozenset[UUID]  # the owner's are ignored: an owner sees every point
    session_id: UUID | None = None  # None: a page built in-process (tests, benchmarks)

    @property
    def reach(self) -> Reach:
        """The points this user's pages and queries may show."""
        return Reach(None) if self.role == Role.OWNER else Reach(self.points)

    @property
    def can_act(self) -> bool:
        """Whether the user may change anything (re-run, enable a device); viewers may not."""
        return self.role in (Role.OWNER, Role.MANAGER)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


@functools.cache
def hasher() -> argon2.PasswordHasher:
    return argon2.PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return hasher().hash("no such user: the same work as a real check")


def check_password(password: str, name: str = "") -> None:
    """Refuse a password that is too short or is the user name itself."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if name and password.strip().lower() == name.strip().lower():
        raise BadInput("the password must not be the user name")


_SELECT = """
SELECT u.user_id, u.name, u.role, u.password_hash, u.is_enabled,
       coalesce(array_agg(p.point_id) FILTER (WHERE p.point_id IS NOT NULL), '{}') AS points
FROM dashboard_users u LEFT JOIN dashboard_user_points p ON p.user_id = u.user_id
"""


def _user(row: sa.Row, session_id: UUID | None = None) -> User:
    points = frozenset(UUID(str(p)) for p in row.points)
    return User(row.user_id, row.name, Role(row.role), points, session_id)


def _row(conn: Connection, name: str) -> sa.Row | None:
    return conn.execute(
        sa.text(_SELECT + " WHERE lower(u.name) = lower(:n) GROUP BY u.user_id"), {"n": name}
    ).first()


def get(conn: Connection, name: str) -> User:
    """The user called `name` (any case), or NotFound."""
    row = _row(conn, name)
    if row is None:
        raise NotFound(f"no dashboard user {name!r}")
    return _user(row)


def by_id(conn: Connection, user_id: int, session_id: UUID | None = None) -> User | None:
    """The enabled user with this id, or None."""
    row = conn.execute(
        sa.text(_SELECT + " WHERE u.user_id = :u AND u.is_enabled GROUP BY u.user_id"),
        {"u": user_id},
    ).first()
    return _user(row, session_id) if row else None


def verify(conn: Connection, name: str, password: str) -> User | None:
    """The enabled user whose name and password these are, or None (same work either way)."""
    row = _row(conn, name)
    stored = row.password_hash if row is not None and row.is_enabled else _dummy_hash()
    try:
        hasher().verify(stored, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return None
    if row is None or not row.is_enabled:
        return None
    return _user(row)


def add(conn: Connection, name: str, role: Role, password: str, points: list[UUID]) -> User:
    """Create a user; Conflict if the name (in any case) is taken."""
    name = name.strip()
    if not name:
        raise BadInput("a user needs a name")
    check_password(password, name)
    if _row(conn, name) is not None:
        raise Conflict(f"dashboard user {name!r} exists")
    conn.execute(
        sa.text("INSERT INTO dashboard_users (name, role, password_hash) VALUES (:n, :r, :h)"),
        {"n": name, "r": Role(role).value, "h": hasher().hash(password)},
    )
    set_points(conn, name, points)
    return get(conn, name)


def set_password(conn: Connection, name: str, password: str) -> None:
    """A new password; the caller revokes the user's sessions in the same transaction."""
    user = get(conn, name)
    check_password(password, user.name)
    conn.execute(
        sa.text(
            "UPDATE dashboard_users SET password_hash = :h, password_changed_at = now() "
            "WHERE user_id = :u"
        ),
        {"h": hasher().hash(password), "u": user.user_id},
    )


def set_role(conn: Connection, name: str, role: Role) -> User:
    user = get(conn, name)
    conn.execute(
        sa.text("UPDATE dashboard_users SET role = :r WHERE user_id = :u"),
        {"r": Role(role).value, "u": user.user_id},
    )
    return get(conn, name)


def set_points(conn: Connection, name: str, points: list[UUID]) -> User:
    """Replace the points a manager or viewer may see; unknown points are refused."""
    user = get(conn, name)
    wanted = sorted({str(p) for p in points})
    known = {
        str(p)
        for p in conn.execute(
            sa.text("SELECT point_id FROM points WHERE point_id = ANY(CAST(:p AS uuid[]))"),
            {"p": wanted},
        ).scalars()
    }
    missing = [p for p in wanted if p not in known]
    if missing:
        raise NotFound(f"no such point: {', '.join(missing)}")
    conn.execute(
        sa.text("DELETE FROM dashboard_user_points WHERE user_id = :u"), {"u": user.user_id}
    )
    for point in wanted:
        conn.execute(
            sa.text("INSERT INTO dashboard_user_points (user_id, point_id) VALUES (:u, :p)"),
            {"u": user.user_id, "p": UUID(point)},
        )
    return get(conn, name)


def set_enabled(conn: Connection, name: str, enabled: bool) -> User:
    user = get(conn, name)
    conn.execute(
        sa.text("UPDATE dashboard_users SET is_enabled = :e WHERE user_id = :u"),
        {"e": enabled, "u": user.user_id},
    )
    return user


def listing(conn: Connection) -> list[dict]:
    """Every user with role, state, points (names) and open sessions, for the CLI."""
    sql = """
        SELECT u.name, u.role, u.is_enabled,
               coalesce(string_agg(DISTINCT coalesce(p.name, p.point_id::text), ', '), '')
                   AS points,
               (SELECT count(*) FROM dashboard_sessions s WHERE s.user_id = u.user_id
                  AND s.revoked_at IS NULL AND s.expires_at > now()) AS sessions
        FROM dashboard_users u
        LEFT JOIN dashboard_user_points up ON up.user_id = u.user_id
        LEFT JOIN points p ON p.point_id = up.point_id
        GROUP BY u.user_id ORDER BY lower(u.name)
    """
    return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
