"""Apply the numbered SQL files of `sql/` in filename order, each once.

Applied files are recorded in `schema_migrations` with a checksum, so running again is
a no-op and an edited, already-applied file is an error instead of a silent drift.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salescontrol.db import advisory_key, execute_script
from salescontrol.errors import ConfigError

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_NAME = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    filename   text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The migration files in the order they are applied."""
    if not sql_dir.is_dir():
        raise ConfigError(f"migrations folder {sql_dir} does not exist")
    files = sorted(sql_dir.glob("*.sql"))
    for path in files:
        if not _NAME.match(path.name):
            raise ConfigError(f"{path}: migration files are named NNN_description.sql")
    return files


def migrate(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations in one transaction; return the names applied."""
    files = migration_files(sql_dir)
    applied_now: list[str] = []
    with engine.begin() as conn:
        # Two migrators at once (e.g. several instances starting) wait for each other.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key("migrate")})
        conn.execute(sa.text(_LEDGER))
        done = dict(conn.execute(sa.text("SELECT filename, checksum FROM schema_migrations")).all())
        for path in files:
            sql = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if path.name in done:
                if done[path.name] != checksum:
                    raise ConfigError(
                        f"{path.name} was changed after it was applied; "
                        "add a new numbered migration instead of editing it"
                    )
                continue
            log.info("applying %s", path.name)
            execute_script(conn, sql)
            conn.execute(
                sa.text("INSERT INTO schema_migrations (filename, checksum) VALUES (:f, :c)"),
                {"f": path.name, "c": checksum},
            )
            applied_now.append(path.name)
    return applied_now
