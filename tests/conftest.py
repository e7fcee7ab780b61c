"""Shared fixtures: one real local stack per test session, isolated environment per test."""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from devkit.admin import AdminClient
from devkit.local.stack import DATABASE, LocalStack
from salescontrol import config, db, migrate, pubsub, storage

REPO = Path(__file__).resolve().parent.parent
_SETTING_NAMES = [name for name, _, _ in config.describe()]


def _clear_caches() -> None:
    if storage.client.cache_info().currsize:
        # Close its pooled connections now: dropped unclosed, they warn at some later GC.
        storage.client()._http.close()
    config.settings.cache_clear()
    storage.client.cache_clear()
    pubsub.publisher.cache_clear()


@pytest.fixture(autouse=True)
def collect_garbage() -> Iterator[None]:
    """Collect after each test, so an unclosed socket fails the test that leaked it."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts without SalesControl settings from the outer environment."""
    for name in _SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    workdir = Path(tempfile.mkdtemp(prefix="salescontrol-test-"))
    # Session fixtures start before `isolated_env`: keep the outer settings (say an
    # exported OPENAI_API_KEY) out of the stack's functions too.
    running = LocalStack(workdir, ingest_port=0, echo=lambda line: None, asr=False)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in _SETTING_NAMES:
                patch.delenv(name, raising=False)
            running.start()
        yield running
    finally:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def stack_env(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point this process's client libraries at the session stack."""
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    _clear_caches()
    return stack.env


@pytest.fixture
def sweeper_alone(stack: LocalStack) -> Iterator[None]:
    """No background sweeper tick during the test: one that calls `sweeper.sweep()` and
    counts what it did would otherwise race the stack's timer for the same stuck rows."""
    with stack.scheduler_paused():
        yield


@pytest.fixture
def engine(stack: LocalStack) -> sa.Engine:
    return db.engine(stack.env["DATABASE_URL"])


@pytest.fixture
def fresh_db(stack: LocalStack) -> Iterator[str]:
    """URL of a new, empty database on the stack's Postgres (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    base = stack.env["DATABASE_URL"].rsplit("/", 1)[0]
    admin = sa.create_engine(
        f"{base}/{DATABASE}", isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def migrated_db(fresh_db: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(fresh_db, poolclass=sa.pool.NullPool)
    migrate.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def api(stack: LocalStack) -> AdminClient:
    """The dev kit's admin-API client, pointed at the session stack."""
    return AdminClient(stack.url("ingest"), stack.admin_token)


@pytest.fixture
def device(api: AdminClient) -> dict:
    """A freshly registered, enabled device with its one-time token."""
    return api.register()


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# Fixtures that start a local stack (the session's, or a module's own): their tests are
# off the fast lane (`nox -s fast`: -m "not emulator and not postgres and not slow").
STACK_FIXTURES = {"stack", "own_stack"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.emulator)
            item.add_marker(pytest.mark.postgres)


os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
