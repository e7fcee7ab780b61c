"""The sweeper's work: close dialogues of quiet devices, re-queue stuck work.

1. A device whose newest chunk activity is older than `SWEEP_DELAY_SEC` (recording
   stopped, outage) gets its open speech closed (`assemble_device(force=True)`): the
   missing evidence of silence will not come. Open speech whose chunks were processed
   more than `LATE_CHUNK_WAIT_SEC` ago is closed too, even on a device still recording:
   the chunk it waits for is lost.
2. Chunks UPLOADED or PROCESSING for longer than `STUCK_TIMEOUT_SEC` get their bucket
   notification published again (vad skips generations it has finished).
3. Dialogues QUEUED or PROCESSING for longer than `STUCK_TIMEOUT_SEC` go back to QUEUED
   with a fresh asr-requests message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from google.api_core import exceptions as gexc

from salescontrol import chunks, messages, pubsub, storage
from salescontrol.assembly import assemble_device
from salescontrol.config import settings
from salescontrol.db import transaction
from salescontrol.errors import TransientError

log = logging.getLogger(__name__)

BATCH = 200  # most items of each kind handled per tick


@dataclass(frozen=True)
class SweepResult:
    devices_closed: int
    dialogues_closed: int
    chunks_requeued: int
    dialogues_requeued: int


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


def notification(object_name: str, generation: int, size: int) -> tuple[dict, dict[str, str]]:
    """The JSON_API_V1 OBJECT_FINALIZE payload and attributes GCS sends for an object."""
    bucket = settings().audio_bucket
    payload = {
        "kind": "storage#object",
        "bucket": bucket,
        "name": object_name,
        "generation": str(generation),
        "size": str(size),
    }
    attributes = {
        "payloadFormat": "JSON_API_V1",
        "eventType": "OBJECT_FINALIZE",
        "bucketId": bucket,
        "objectId": object_name,
        "objectGeneration": str(generation),
    }
    return payload, attributes


def requeue_chunks(now: datetime) -> int:
    cutoff = now - timedelta(seconds=settings().stuck_timeout_sec)
    with transaction() as conn:
        rows = conn.execute(
            sa.text(
                "UPDATE audio_chunks SET updated_at = :now WHERE chunk_id IN (SELECT chunk_id "
                "FROM audio_chunks WHERE status IN (:u, :p) AND updated_at < :cutoff "
                "ORDER BY updated_at LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING object_name"
            ),
            {
                "now": now,
                "u": chunks.UPLOADED,
                "p": chunks.PROCESSING,
                "cutoff": cutoff,
                "n": BATCH,
            },
        ).all()
    count = 0
    for row in rows:
        try:
            blob = storage.bucket().get_blob(row.object_name)
        except gexc.GoogleAPIError as exc:
            raise TransientError(f"looking up {row.object_name}: {exc}") from exc
        if blob is None:
            continue
        payload, attributes = notification(row.object_name, blob.generation, blob.size)
        pubsub.publish("chunk-uploaded", payload, **attributes)
        count += 1
    return count


def requeue_dialogues(now: datetime) -> int:
    cutoff = now - timedelta(seconds=settings().stuck_timeout_sec)
    with transaction() as conn:
        rows = conn.execute(
            sa.text(
                "UPDATE dialogues SET asr_status = 'QUEUED', updated_at = :now "
                "WHERE dialogue_id IN (SELECT dialogue_id FROM dialogues WHERE asr_status IN "
                "('QUEUED', 'PROCESSING') AND updated_at < :cutoff ORDER BY updated_at "
                "LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING dialogue_id, audio_object"
            ),
            {"now": now, "cutoff": cutoff, "n": BATCH},
        ).all()
    for row in rows:
        messages.publish(
            messages.AsrRequest(dialogue_id=str(row.dialogue_id), audio_object=row.audio_object)
        )
    return len(rows)


def sweep(now: datetime | None = None) -> SweepResult:
    """One sweeper tick as of `now` (default: the current time)."""
    now = now or datetime.now(UTC)
    devices = quiet_devices(now)
    closed = sum(len(assemble_device(d, force=True)) for d in devices)
    stale = waited_too_long(now)
    closed += sum(len(assemble_device(d, force_before_ms=ms)) for d, ms in stale)
    result = SweepResult(
        len(devices) + len(stale), closed, requeue_chunks(now), requeue_dialogues(now)
    )
    if any(vars(result).values()):
        log.info("sweep: %s", result)
    return result
