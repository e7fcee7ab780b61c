"""A throwaway PostgreSQL cluster for the local stack, tuned for speed over durability."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import sqlalchemy as sa

from devkit.local.services import Service
from devkit.local.supervisor import Launch, StackError
from salescontrol import migrate


def database_url(port: int, database: str) -> str:
    """The SQLAlchemy URL of `database` on the local server at `port`."""
    return f"postgresql+pg8000://postgres@127.0.0.1:{port}/{database}"


class Postgres(Service):
    """initdb into a temporary directory, `postgres` on it, one database migrated."""

    name = "postgres"

    def __init__(self, pg_bin: Path, port: int, options: dict[str, str] | None = None) -> None:
        self.pg_bin, self.port = pg_bin, port
        self.options = options or {}  # more `-c name=value` server settings (say ssl=on)
        # Postgres refuses to run as root: then the postgres user runs it.
        self.user = "postgres" if os.geteuid() == 0 else None
        self.cluster_dir: Path | None = None

    def database_url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` on this server."""
        return database_url(self.port, database)

    def init_cluster(self) -> None:
        """Create the cluster (initdb), raising StackError with initdb's output if it fails."""
        # The cluster lives outside the workdir so the postgres user can reach it whatever
        # the workdir's parents allow.
        self.cluster_dir = Path(tempfile.mkdtemp(prefix="salescontrol-pg-"))
        self.cluster_dir.chmod(0o755)
        data = self.cluster_dir / "data"
        data.mkdir()
        if self.user:
            shutil.chown(self.cluster_dir, self.user)
            shutil.chown(data, self.user)
        init = subprocess.run(
            [
                str(self.pg_bin / "initdb"),
                *("-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"),
                *("--locale=C.UTF-8", "--no-sync"),
            ],
            capture_output=True,
            text=True,
            user=self.user,
            cwd=self.cluster_dir,
        )
        if init.returncode != 0:
            raise StackError(f"initdb failed:\n{init.stdout}{init.stderr}")

    def launch(self) -> Launch:
        """The server on the cluster, listening on 127.0.0.1 only, without fsync."""
        assert self.cluster_dir is not None, "init_cluster() first"
        argv = [
            str(self.pg_bin / "postgres"),
            *("-D", str(self.cluster_dir / "data"), "-p", str(self.port)),
            *("-k", str(self.cluster_dir), "-c", "listen_addresses=127.0.0.1"),
            *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
            *("-c", "max_connections=200"),
            *(arg for name, value in self.options.items() for arg in ("-c", f"{name}={value}")),
        ]
        # SIGINT is the "fast" shutdown: it does not wait for clients.
        return Launch(self.name, argv, user=self.user, stop_signal=signal.SIGINT)

    def ready(self) -> bool:
        """Whether it answers a query."""
        engine = sa.create_engine(self.database_url("postgres"), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.DBAPIError:
            return False
        finally:
            engine.dispose()

    def serving(self) -> bool:
        """Whether it answers a query again after a restart (a port alone is not enough)."""
        return self.ready()

    def create_database(self, database: str) -> list[str]:
        """Create `database` and apply the migrations; return the ones applied."""
        admin = sa.create_engine(
            self.database_url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {database}"))
        admin.dispose()
        engine = sa.create_engine(self.database_url(database), poolclass=sa.pool.NullPool)
        applied = migrate.migrate(engine)
        engine.dispose()
        return applied

    def remove_cluster(self) -> None:
        """Delete the cluster's directory (once the server has stopped)."""
        if self.cluster_dir:
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
            self.cluster_dir = None
