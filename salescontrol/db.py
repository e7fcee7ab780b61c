"""Database access: one engine per process, transactions as context managers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salescontrol.config import settings

_ENGINES: dict[str | None, Engine] = {}


def engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: DATABASE_URL), created once and reused."""
    if url not in _ENGINES:
        target = url or settings().require("database_url")
        _ENGINES[url] = sa.create_engine(target, pool_pre_ping=True, pool_size=5, max_overflow=5)
    return _ENGINES[url]


def dispose_engines() -> None:
    """Close every engine's pooled connections and forget the engines (settings changed)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


@contextmanager
def transaction(url: str | None = None) -> Iterator[Connection]:
    """A connection inside a transaction that commits on success."""
    with engine(url).begin() as conn:
        yield conn


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_*lock from any string."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def execute_script(conn: Connection, sql: str) -> None:
    """Run a multi-statement SQL script on `conn`, inside its transaction."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
