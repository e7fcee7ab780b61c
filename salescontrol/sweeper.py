"""The sweeper's work: close dialogues of quiet devices, re-queue stuck work.

1. A device whose newest chunk activity is older than `SWEEP_DELAY_SEC` (recording
   stopped, outage) gets its open speech closed (`assemble_device(force=True)`): the
   missing evidence of silence will not come. Open speech whose chunks were processed
   more than `LATE_CHUNK_WAIT_SEC` ago is closed too, even on a device still recording:
   the chunk it waits for is lost.
2. Work stuck longer than `STUCK_TIMEOUT_SEC` (`salescontrol.backlog`, the definition
   the dashboard shows) is queued again: a chunk gets its bucket notification published
   again (vad skips generations it has finished), a transcription goes back to QUEUED
   with a fresh asr-requests message, an analysis (dead-lettered too) a fresh
   transcripts-ready; stuck work that used MAX_ATTEMPTS is given up instead.
3. Pending erasures go on, TRANSCRIPT_RETENTION_DAYS is applied (`salescontrol.erasure`).
4. Receipts left without a dialogue that one would take (`receipts.repair`) are matched
   again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from google.api_core import exceptions as gexc

from salescontrol import backlog, erasure, messages, pubsub, receipts, storage, topology
from salescontrol.assembly import assemble_device
from salescontrol.config import settings
from salescontrol.db import transaction
from salescontrol.dialogues import AsrStatus
from salescontrol.errors import GaveUp, TransientError
from salescontrol.events import OBJECT_FINALIZE, StorageObject

log = logging.getLogger(__name__)

BATCH = 200  # most items of each kind handled per tick


@dataclass(frozen=True)
class SweepResult:
    devices_closed: int
    dialogues_closed: int
    chunks_requeued: int
    dialogues_requeued: int
    analyses_requeued: int
    given_up: int  # stuck rows that had used MAX_ATTEMPTS
    erased: int  # erasures carried on, and transcripts removed by the retention
    receipts_rematched: int = 0


def quiet_devices(now: datetime) -> list[UUID]:
    """Devices with speech not yet in a closed span and no chunk activity since the delay."""
    cutoff = now - timedelta(seconds=settings().sweep_delay_sec)
    with transaction() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT o.device_id FROM (SELECT DISTINCT device_id FROM speech_segments "
                "WHERE NOT closed) o WHERE (SELECT max(c.updated_at) FROM audio_chunks c "
                "WHERE c.device_id = o.device_id) < :cutoff LIMIT :n"
            ),
            {"cutoff": cutoff, "n": BATCH},
        ).all()
    return [r.device_id for r in rows]


def waited_too_long(now: datetime) -> list[tuple[UUID, int]]:
    """(device, timeline ms) pairs: open speech up to that ms waited LATE_CHUNK_WAIT_SEC."""
    cutoff = now - timedelta(seconds=settings().late_chunk_wait_sec)
    with transaction() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT s.device_id, max(s.end_ms) AS before_ms FROM speech_segments s "
                "JOIN audio_chunks c USING (chunk_id) WHERE NOT s.closed "
                "AND c.processed_at < :cutoff GROUP BY s.device_id LIMIT :n"
            ),
            {"cutoff": cutoff, "n": BATCH},
        ).all()
    return [(r.device_id, r.before_ms) for r in rows]


def _claim_stuck(stage: backlog.Stage, now: datetime) -> list[sa.Row]:
    """Touch up to BATCH stuck rows of `stage` with attempts left (so the next tick waits
    again) and return them; SKIP LOCKED keeps two sweepers from taking the same rows."""
    cutoff = now - timedelta(seconds=settings().stuck_timeout_sec)
    touch = ", asr_status = :queued" if stage is backlog.ASR else ""
    with transaction() as conn:
        return conn.execute(
            sa.text(
                f"UPDATE {stage.table} SET updated_at = :now{touch} WHERE {stage.key} IN "
                f"(SELECT id FROM ({backlog.stuck_query(stage)}) s WHERE attempts < :max "
                f"ORDER BY updated_at LIMIT :n FOR UPDATE SKIP LOCKED) AND {stage.owed} "
                "RETURNING *"
            ),
            {
                "now": now,
                "cutoff": cutoff,
                "n": BATCH,
                "max": settings().max_attempts,
                "queued": AsrStatus.QUEUED,
            },
        ).all()


def give_up_stuck(now: datetime) -> int:
    """Stuck rows that used MAX_ATTEMPTS (their last delivery died or dead-lettered) end
    in the stage's failed status with the last error, instead of another try."""
    params = {"cutoff": now - timedelta(seconds=settings().stuck_timeout_sec), "n": BATCH}
    with transaction() as conn:
        for stage in backlog.TIMED:
            sql = f"SELECT * FROM ({backlog.stuck_query(stage)}) s WHERE attempts >= :max"
            rows = conn.execute(
                sa.text(sql + " LIMIT :n"), {**params, "max": settings().max_attempts}
            ).all()
            for row in rows:
                backlog.give_up(conn, stage, row.id, GaveUp(row.attempts, row.error).reason)
                log.warning("%s gave up on %s: %s", stage.name, row.id, row.error)
            params["n"] -= len(rows)
    return BATCH - params["n"]


def requeue_chunks(now: datetime) -> int:
    """Stuck chunks: their bucket notification again (vad skips finished generations)."""
    count = 0
    for row in _claim_stuck(backlog.VAD, now):
        try:
            blob = storage.bucket().get_blob(row.object_name)
        except gexc.GoogleAPIError as exc:
            raise TransientError(f"looking up {row.object_name}: {exc}") from exc
        if blob is None:
            continue
        notice = StorageObject(
            OBJECT_FINALIZE, settings().audio_bucket, blob.name, blob.generation, blob.size
        )
        payload, attributes = notice.notification()
        pubsub.publish(topology.load().chunk_notification.topic, payload, **attributes)
        count += 1
    return count


def requeue_dialogues(now: datetime) -> int:
    """Stuck transcriptions: QUEUED again with a fresh asr-requests message."""
    rows = _claim_stuck(backlog.ASR, now)
    for row in rows:
        messages.publish(
            messages.AsrRequest(dialogue_id=str(row.dialogue_id), audio_object=row.audio_object)
        )
    return len(rows)


def requeue_analyses(now: datetime) -> int:
    """Stuck analyses: a fresh transcripts-ready message (analyze claims it again)."""
    rows = _claim_stuck(backlog.ANALYZE, now)
    for row in rows:
        messages.publish(messages.TranscriptReady(dialogue_id=str(row.dialogue_id)))
    return len(rows)


def sweep(now: datetime | None = None) -> SweepResult:
    """One sweeper tick as of `now` (default: the current time)."""
    now = now or datetime.now(UTC)
    devices = quiet_devices(now)
    closed = sum(len(assemble_device(d, force=True)) for d in devices)
    stale = waited_too_long(now)
    closed += sum(len(assemble_device(d, force_before_ms=ms)) for d, ms in stale)
    given_up = give_up_stuck(now)
    result = SweepResult(
        len(devices) + len(stale),
        closed,
        requeue_chunks(now),
        requeue_dialogues(now),
        requeue_analyses(now),
        given_up,
        erasure.run_pending() + erasure.apply_retention(now),
        receipts.repair(),
    )
    if any(vars(result).values()):
        log.info("sweep: %s", result)
    return result
