"""Migrations and the original guide's monitoring SQL on a real Postgres."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from salescontrol import migrate
from salescontrol.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
SEED_QUERIES = REPO / "tests" / "test_data" / "seed_queries.sql"
SEED_GUIDE = next(iter(sorted((REPO.parent / "shared" / "seed").glob("*.txt"))), None)
TABLES = {
    "points",
    "registers",
    "devices",
    "audio_chunks",
    "orphan_objects",
    "speech_segments",
    "dialogues",
    "dialogue_transcripts",
    "dialogue_upsell_analysis",
    "schema_migrations",
}


def _queries() -> list[str]:
    text = SEED_QUERIES.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("-- section"))
    statements = [s.strip() for s in body.split(";")]
    return [s + ";" for s in statements if re.search(r"\bSELECT\b", s)]


def test_migrations_apply_once_and_twice_cleanly(fresh_db: str) -> None:
    engine = sa.create_engine(fresh_db, poolclass=sa.pool.NullPool)
    assert migrate.migrate(engine) == [p.name for p in migrate.migration_files()]
    assert migrate.migrate(engine) == []
    with engine.connect() as conn:
        tables = set(
            conn.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            ).scalars()
        )
        recorded = conn.execute(sa.text("SELECT filename FROM schema_migrations")).scalars().all()
    engine.dispose()
    assert tables >= TABLES
    assert sorted(recorded) == [p.name for p in migrate.migration_files()]


def test_edited_migration_is_refused(fresh_db: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(migrate.SQL_DIR, sql_dir)
    engine = sa.create_engine(fresh_db, poolclass=sa.pool.NullPool)
    migrate.migrate(engine, sql_dir)
    first = sorted(sql_dir.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(ConfigError, match="changed after it was applied"):
        migrate.migrate(engine, sql_dir)
    engine.dispose()


def test_migration_files_are_applied_in_filename_order(fresh_db: str, tmp_path: Path) -> None:
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "002_b.sql").write_text("INSERT INTO t VALUES (2);")
    (sql_dir / "001_a.sql").write_text("CREATE TABLE t (x int); INSERT INTO t VALUES (1);")
    engine = sa.create_engine(fresh_db, poolclass=sa.pool.NullPool)
    assert migrate.migrate(engine, sql_dir) == ["001_a.sql", "002_b.sql"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT array_agg(x ORDER BY x) FROM t")).scalar() == [1, 2]
    engine.dispose()


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigError, match=r"NNN_description\.sql"):
        migrate.migration_files(tmp_path)


@pytest.mark.skipif(SEED_GUIDE is None, reason="shared/seed is not beside the repository")
def test_seed_queries_are_verbatim_from_the_guide() -> None:
    guide = SEED_GUIDE.read_text(encoding="utf-8")
    for query in _queries():
        body = "\n".join(line for line in query.splitlines() if not line.startswith("--"))
        assert body.strip() in guide, body


def test_seed_monitoring_queries_run_unchanged(migrated_db: sa.Engine) -> None:
    device, point, register = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    dialogue = uuid.uuid4()
    with migrated_db.begin() as conn:
        conn.execute(sa.text("INSERT INTO points (point_id) VALUES (:p)"), {"p": point})
        conn.execute(
            sa.text("INSERT INTO registers (register_id, point_id) VALUES (:r, :p)"),
            {"r": register, "p": point},
        )
        conn.execute(
            sa.text(
                "INSERT INTO devices (device_id, point_id, register_id, token_hash) "
                "VALUES (:d, :p, :r, 'h')"
            ),
            {"d": device, "p": point, "r": register},
        )
        for minutes_ago, status in [(11, "PROCESSING"), (1, "PROCESSING"), (30, "DONE")]:
            conn.execute(
                sa.text(
                    "INSERT INTO audio_chunks (chunk_id, device_id, started_at, duration_sec, "
                    "size_bytes, sha256, codec, sample_rate, object_name, status, created_at) "
                    "VALUES (:c, :d, now(), 60, 1, 'x', 'opus', 16000, :o, :s, "
                    "now() - make_interval(mins => :m))"
                ),
                {
                    "c": uuid.uuid4(),
                    "d": device,
                    "o": str(uuid.uuid4()),
                    "s": status,
                    "m": minutes_ago,
                },
            )
        conn.execute(
            sa.text(
                "INSERT INTO dialogues (dialogue_id, device_id, point_id, register_id, start_ms, "
                "end_ms, started_at, ended_at, speech_sec, asr_status, analysis_status) VALUES "
                "(:i, :d, :p, :r, 0, 1000, now(), now(), 1, 'DONE', 'DONE')"
            ),
            {"i": dialogue, "d": device, "p": point, "r": register},
        )
        conn.execute(
            sa.text(
                "INSERT INTO dialogue_transcripts (dialogue_id, text) VALUES (:i, 'Добрый день')"
            ),
            {"i": dialogue},
        )
        conn.execute(
            sa.text(
                "INSERT INTO dialogue_upsell_analysis (dialogue_id, attempted, quality_score, "
                "analyzer) VALUES (:i, true, 7, 'rules')"
            ),
            {"i": dialogue},
        )

    results = []
    with migrated_db.connect() as conn:
        for query in _queries():
            results.append(conn.execute(sa.text(query.replace(":", r"\:"))).all())
    assert len(results) == 10
    stuck = results[5]
    assert stuck == [(1,)]  # only the PROCESSING chunk created 11 minutes ago
    latest = results[7]
    assert [(r.text, r.attempted, r.quality_score) for r in latest] == [("Добрый день", True, 7)]
    assert results[8] == [(device, True)]
