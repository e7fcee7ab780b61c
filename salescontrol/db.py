"""Database access: one engine per process, transactions as context managers.

Each engine holds at most DB_POOL_SIZE + DB_MAX_OVERFLOW connections, and talks TLS as
DATABASE_SSL says (pg8000 takes an `ssl_context`; libpq's sslmode names are kept).
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salescontrol.config import Settings, settings
from salescontrol.errors import ConfigError

_ENGINES: dict[str | None, Engine] = {}


def engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: DATABASE_URL), created once and reused."""
    if url not in _ENGINES:
        s = settings()
        target = url or s.require("database_url")
        if s.db_pool_size < 1 or s.db_max_overflow < 0:
            # SQLAlchemy reads pool_size 0 as "no limit": never what a budget means.
            raise ConfigError("DB_POOL_SIZE must be at least 1 and DB_MAX_OVERFLOW at least 0")
        _ENGINES[url] = sa.create_engine(
            target,
            pool_pre_ping=True,
            pool_size=s.db_pool_size,
            max_overflow=s.db_max_overflow,
            connect_args=connect_args(s),
        )
    return _ENGINES[url]


_SSL_MODES = ("prefer", "disable", "require", "verify-ca", "verify-full")


def _ca_pem(value: str) -> str:
    """The CA certificate text of DATABASE_SSL_CA: PEM (with real or \\n newlines) or a path."""
    if value.lstrip().startswith("-----BEGIN"):
        return value.replace("\\n", "\n")
    try:
        return Path(value).read_text(encoding="ascii")
    except OSError as exc:
        raise ConfigError(f"DATABASE_SSL_CA: cannot read {value}: {exc}") from None


def connect_args(s: Settings) -> dict[str, Any]:
    """pg8000's connect arguments for DATABASE_SSL (`ssl_context`)."""
    mode = s.database_ssl
    if mode not in _SSL_MODES:
        raise ConfigError(f"DATABASE_SSL={mode!r} is not one of {', '.join(_SSL_MODES)}")
    if mode == "prefer":
        return {}  # pg8000's default: TLS when the server offers it, unverified
    if mode == "disable":
        return {"ssl_context": False}
    context = ssl.create_default_context()
    if mode == "require":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return {"ssl_context": context}
    ca = s.require("database_ssl_ca")
    try:
        context = ssl.create_default_context(cadata=_ca_pem(ca))
    except ssl.SSLError as exc:
        raise ConfigError(f"DATABASE_SSL_CA holds no usable certificate: {exc}") from None
    # verify-ca: the chain must end at this CA; Cloud SQL's server certificates name the
    # instance, not the private IP the URL holds, so only verify-full checks the name.
    context.check_hostname = mode == "verify-full"
    return {"ssl_context": context}


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
