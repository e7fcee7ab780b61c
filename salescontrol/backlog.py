"""Work the pipeline still owes: the one definition of "owed" and of "stuck".

A row owes work to a stage while its status says that stage has not finished with it;
it is stuck when it has owed that work for longer than STUCK_TIMEOUT_SEC (its
`updated_at` is older). The sweeper re-queues every stuck stage, the dashboard's pipeline
page lists the same rows, and the demo's progress and the soak run wait until nothing
is owed. Open speech (assemble) is owed too, but waits for evidence, not a timeout: the
sweeper closes it by its own rules (`sweeper.quiet_devices`).

Attempts: each delivery that takes work on counts one (one that dies mid-way too); a
failure records its error on the row, a transient one (an outage, not the row's fault)
gives its attempt back. After MAX_ATTEMPTS the stage gives up: REJECTED / FAILED with
`errors.GaveUp`'s reason and the last error, no longer owed, never re-queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.chunks import ChunkStatus
from salescontrol.dialogues import AnalysisStatus, AsrStatus
from salescontrol.errors import GaveUp, TransientError


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
    attempts: str = "0"  # the column counting attempts, the last error, the given-up status
    error: str = "NULL"
    gives_up: str = ""


VAD = Stage(
    "vad",
    "audio_chunks",
    "chunk_id",
    "status",
    f"status IN {_among(ChunkStatus.UPLOADED, ChunkStatus.PROCESSING)}",
    attempts="attempts",
    error="error",
    gives_up=ChunkStatus.REJECTED,
)
ASSEMBLE = Stage("assemble", "speech_segments", "chunk_id", "'OPEN'", "NOT closed", False)
ASR = Stage(
    "asr",
    "dialogues",
    "dialogue_id",
    "asr_status",
    f"asr_status IN {_among(AsrStatus.PENDING, AsrStatus.QUEUED, AsrStatus.PROCESSING)}",
    attempts="asr_attempts",
    error="asr_error",
    gives_up=AsrStatus.FAILED,
)
ANALYZE = Stage(
    "analyze",
    "dialogues",
    "dialogue_id",
    "analysis_status",
    f"asr_status = '{AsrStatus.DONE}' AND analysis_status IN "
    f"{_among(AnalysisStatus.PENDING, AnalysisStatus.PROCESSING)}",
    attempts="analysis_attempts",
    error="analysis_error",
    gives_up=AnalysisStatus.FAILED,
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
    """SELECT the stage's stuck rows (id, status, attempts, last error, updated_at) older
    than :cutoff."""
    return (
        f"SELECT '{stage.name}' AS stage, {stage.key} AS id, {stage.status} AS status, "
        f"{stage.attempts} AS attempts, {stage.error} AS error, updated_at "
        f"FROM {stage.table} WHERE {stage.owed} AND updated_at < :cutoff"
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


def take_attempt(
    conn: Connection, stage: Stage, key: object, max_attempts: int, force: bool
) -> None:
    """Count one more attempt on a row just claimed (in the claim's transaction), or GaveUp
    once it has used `max_attempts` (a forced run starts the count again)."""
    sql = f"SELECT {stage.attempts}, {stage.error} FROM {stage.table} WHERE {stage.key} = :k"
    attempts, error = conn.execute(sa.text(sql + " FOR UPDATE"), {"k": key}).one()
    if attempts >= max_attempts and not force:
        raise GaveUp(attempts, error)
    count = "1" if force else f"{stage.attempts} + 1"
    sql = f"UPDATE {stage.table} SET {stage.attempts} = {count} WHERE {stage.key} = :k"
    conn.execute(sa.text(sql), {"k": key})


def is_transient(exc: BaseException) -> bool:
    """Whether a failure is an outage (retry; the attempt is given back), not the row's."""
    return isinstance(exc, TransientError | sa.exc.OperationalError | sa.exc.InterfaceError)


def give_up(conn: Connection, stage: Stage, key: object, reason: str) -> None:
    """End a row that used its attempts: the stage's failed status with GaveUp's reason
    (only while it still owes the work: a delivery that just finished it wins)."""
    conn.execute(
        sa.text(
            f"UPDATE {stage.table} SET {stage.status} = :s, {stage.error} = :r, "
            f"updated_at = now() WHERE {stage.key} = :k AND {stage.owed}"
        ),
        {"s": stage.gives_up, "r": reason, "k": key},
    )


def failed(
    conn: Connection, stage: Stage, key: object, error: str, transient: bool, max_attempts: int
) -> str | None:
    """Record a failed attempt's error on the row; a transient one gives the attempt
    back. Return GaveUp's reason when the row has now used `max_attempts` (given up)."""
    attempts = conn.execute(
        sa.text(
            f"UPDATE {stage.table} SET {stage.error} = :e, "
            f"{stage.attempts} = greatest(0, {stage.attempts} - :refund), updated_at = now() "
            f"WHERE {stage.key} = :k AND {stage.owed} RETURNING {stage.attempts}"
        ),
        {"e": error.partition("\n")[0][:2000], "refund": int(transient), "k": key},
    ).scalar_one_or_none()
    if attempts is None or transient or attempts < max_attempts:
        return None
    reason = GaveUp(attempts, error).reason
    give_up(conn, stage, key, reason)
    return reason
