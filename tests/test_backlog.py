"""One owner per fact: statuses against the SQL, and one "owed / stuck" definition that
the sweeper, the dashboard and the dev kit share."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from dashboard_data import add_device, add_dialogue

from dashboard import queries
from devkit.waiting import poll_until
from salescontrol import backlog, sweeper
from salescontrol.chunks import ChunkStatus
from salescontrol.dialogues import AnalysisStatus, AsrStatus
from salescontrol.voices import SpanKind

SALE = [
    {"start": 0.0, "end": 3.0, "text": "Здравствуйте, мне капучино, пожалуйста."},
    {"start": 3.0, "end": 6.0, "text": "Может, ещё круассан к кофе? Сегодня свежие."},
    {"start": 6.0, "end": 9.0, "text": "Да, давайте круассан. Оплата картой."},
]


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        ("audio_chunks", "status", ChunkStatus),
        ("dialogues", "asr_status", AsrStatus),
        ("dialogues", "analysis_status", AnalysisStatus),
        ("assembly_spans", "kind", SpanKind),
    ],
)
def test_status_enums_are_the_sql_check_constraints(migrated_db, table, column, enum) -> None:
    with migrated_db.connect() as conn:
        checks = conn.execute(
            sa.text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND contype = 'c'"
            ),
            {"t": table},
        ).scalars()
        ours = [c for c in checks if re.search(rf"\(\({column}\b", c)]
    assert len(ours) == 1, ours
    assert set(re.findall(r"'(\w+)'", ours[0])) == {s.value for s in enum}


def test_owed_counts_every_stage_and_filters_by_device(stack_env, engine) -> None:
    with engine.begin() as conn:
        mine = add_device(conn, "Backlog", "Касса 1")
        other = add_device(conn, "Backlog", "Касса 2")
        add_dialogue(conn, mine, datetime.now(UTC), segments=SALE)  # ASR DONE, analysis owed
        add_dialogue(conn, mine, datetime.now(UTC) - timedelta(minutes=5))  # ASR owed
        add_dialogue(conn, other, datetime.now(UTC))
        owed = backlog.owed(conn, mine.device_id)
    assert owed == {"vad": 0, "assemble": 0, "asr": 1, "analyze": 1}


def test_the_sweeper_requeues_every_stage_the_dashboard_calls_stuck(
    stack_env, engine, sweeper_alone
) -> None:
    """A stuck analysis (transcribed, its transcripts-ready lost) is on the pipeline page
    and the sweeper queues it again: the analyze function then finishes it."""
    stale = datetime.now(UTC) - timedelta(hours=3)
    with engine.begin() as conn:
        dev = add_device(conn, "Backlog", "Касса 3")
        dialogue_id = add_dialogue(
            conn, dev, stale, segments=SALE, analysis_status=AnalysisStatus.PROCESSING
        )
        conn.execute(
            sa.text("UPDATE dialogues SET updated_at = :t WHERE dialogue_id = :d"),
            {"t": stale, "d": dialogue_id},
        )
    with engine.connect() as conn:
        shown = queries.pipeline(conn, 600, queries.EVERY_POINT)
    assert {(s["stage"], s["id"]) for s in shown.stuck} >= {("analyze", dialogue_id)}
    assert {s["stage"] for s in shown.stuck} <= {s.name for s in backlog.TIMED}

    result = sweeper.sweep()
    assert result.analyses_requeued >= 1

    def analysed() -> bool:
        with engine.connect() as conn:
            return (
                conn.execute(
                    sa.text("SELECT analysis_status FROM dialogues WHERE dialogue_id = :d"),
                    {"d": dialogue_id},
                ).scalar_one()
                == AnalysisStatus.DONE
            )

    poll_until(analysed, timeout=60, message="the re-queued analysis to finish")
    # Once re-queued it is no longer stuck: a second tick leaves it alone.
    assert sweeper.sweep().analyses_requeued == 0
