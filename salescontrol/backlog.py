"""Work the pipeline still owes: the one definition of "owed" and of "stuck".

A row owes work to a stage while its status says that stage has not finished with it;
it is stuck when it has owed that work for longer than STUCK_TIMEOUT_SEC (its
`updated_at` is older). The sweeper re-queues every stuck stage, the dashboard's pipeline
page lists the same rows, and the demo's progress and the soak run wait until nothing
is owed. Open speech (assemble) is owed too, but waits for evidence, not a timeout: the
sweeper closes it by its own rules (`sweeper.quiet_devices`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.chunks import ChunkStatus
from salescontrol.dialogues import AnalysisStatus, AsrStatus


def _among(*statuses: str) -> str:
    return "(" + ", ".join(f"'{s}'" for s in statuses) + ")"


@dataclass(frozen=True)
class Stage:
    """A stage's work as rows of one table: `owed` is the SQL condition on a row."""

    name: str  # the subscription that does the work
    table: str
    key: str
    status: str  # the column shown with a stuck row
    owed: str
    times_out: bool = True  # stuck after STUCK_TIMEOUT_SEC (assemble waits for evidence)


VAD = Stage(
    "vad",
    "audio_chunks",
    "chunk_id",
    "status",
    f"status IN {_among(ChunkStatus.UPLOADED, ChunkStatus.PROCESSING)}",
)
ASSEMBLE = Stage("assemble", "speech_segments", "chunk_id", "'OPEN'", "NOT closed", False)
ASR = Stage(
    "asr",
    "dialogues",
    "dialogue_id",
    "asr_status",
    f"asr_status IN {_among(AsrStatus.PENDING, AsrStatus.QUEUED, AsrStatus.PROCESSING)}",
)
ANALYZE = Stage(
    "analyze",
    "dialogues",
    "dialogue_id",
    "analysis_status",
    f"asr_status = '{AsrStatus.DONE}' AND analysis_status IN "
    f"{_among(AnalysisStatus.PENDING, AnalysisStatus.PROCESSING)}",
)
STAGES = (VAD, ASSEMBLE, ASR, ANALYZE)
TIMED = tuple(s for s in STAGES if s.times_out)


def owed(conn: Connection, device_id: object | None = None) -> dict[str, int]:
    """Rows each stage still owes work on (of one device, or all)."""
    where = " AND device_id = :d" if device_id is not None else ""
    sql = ", ".join(
        f"(SELECT count(*) FROM {s.table} WHERE {s.owed}{where}) AS {s.name}" for s in STAGES
    )
    return dict(conn.execute(sa.text(f"SELECT {sql}"), {"d": device_id}).one()._mapping)


def stuck_query(stage: Stage) -> str:
    """SELECT the stage's stuck rows (id, status, updated_at) older than :cutoff."""
    return (
        f"SELECT '{stage.name}' AS stage, {stage.key} AS id, {stage.status} AS status, "
        f"updated_at FROM {stage.table} WHERE {stage.owed} AND updated_at < :cutoff"
    )


def stuck(conn: Connection, cutoff: datetime, limit: int) -> tuple[list[dict], int]:
    """The oldest stuck rows of every timed stage, and how many there are in all."""
    union = " UNION ALL ".join(stuck_query(s) for s in TIMED)
    # count(*) OVER () is taken before the LIMIT: the total comes with the first rows.
    rows = conn.execute(
        sa.text(
            f"SELECT s.*, count(*) OVER () AS total FROM ({union}) AS s "
            "ORDER BY updated_at LIMIT :limit"
        ),
        {"cutoff": cutoff, "limit": limit},
    ).all()
    return [dict(r._mapping) for r in rows], (rows[0].total if rows else 0)
