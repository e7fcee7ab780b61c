"""vad: a chunk landed in the bucket -> its speech segments on the device timeline.

Triggered by the OBJECT_FINALIZE notification of chunks/ (push subscription `vad`).
1. find the announced chunk of the object (none: record an orphan object, ack);
2. skip a generation already processed (notifications repeat, each with its own message
   id, and copy/rewrite fire again) but republish its chunk-vad-done;
3. check size and sha256 against the announcement, decode to 16 kHz mono, check the
   duration: any failure marks the chunk REJECTED with the reason, the object is kept;
4. detect speech, store the segments, mark the chunk DONE, commit, publish.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

import functions_framework
import sqlalchemy as sa
from google.api_core import exceptions as gexc
from sqlalchemy.engine import Row

from salescontrol import audio, chunks, messages, storage
from salescontrol import vad as detector
from salescontrol.assembly import epoch_ms
from salescontrol.config import settings
from salescontrol.db import advisory_key, transaction
from salescontrol.errors import BadInput, TransientError
from salescontrol.events import Message, handler, storage_object
from salescontrol.log import setup_logging

setup_logging(settings().log_level, settings().log_format)
log = logging.getLogger("vad")

# Decoded audio longer than this is absurd whatever was announced.
ABSURD_FACTOR = 2.0


def _find_chunk(object_name: str) -> Row | None:
    with transaction() as conn:
        return conn.execute(
            sa.text("SELECT * FROM audio_chunks WHERE object_name = :o"), {"o": object_name}
        ).first()


def _record_orphan(bucket: str, name: str, generation: int, size: int) -> None:
    with transaction() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO orphan_objects (bucket, object_name, generation, size_bytes, reason) "
                "VALUES (:b, :o, :g, :s, :r) ON CONFLICT DO NOTHING"
            ),
            {
                "b": bucket,
                "o": name,
                "g": generation,
                "s": size,
                "r": "no announced chunk has this object name",
            },
        )
    log.warning("orphan object recorded", extra={"object": name, "generation": generation})


def _claim(chunk_id: object, generation: int) -> bool:
    """Mark the chunk PROCESSING unless this generation is already done or rejected."""
    with transaction() as conn:
        row = conn.execute(
            sa.text(
                "UPDATE audio_chunks SET status = :p, attempts = attempts + 1, updated_at = now() "
                "WHERE chunk_id = :c AND NOT (status IN (:d, :r) AND object_generation = :g) "
                "RETURNING chunk_id"
            ),
            {
                "p": chunks.PROCESSING,
                "d": chunks.DONE,
                "r": chunks.REJECTED,
                "c": chunk_id,
                "g": generation,
            },
        ).first()
    return row is not None


def _reject(chunk_id: object, generation: int, error: str) -> None:
    with transaction() as conn:
        conn.execute(
            sa.text(
                "UPDATE audio_chunks SET status = :r, error = :e, object_generation = :g, "
                "processed_at = now(), updated_at = now() WHERE chunk_id = :c"
            ),
            {"r": chunks.REJECTED, "e": error, "g": generation, "c": chunk_id},
        )
    log.warning("chunk rejected: %s", error, extra={"chunk_id": str(chunk_id)})


def _verify(chunk: Row, data: bytes) -> str | None:
    """Why these bytes are not the announced chunk, or None."""
    if len(data) == 0:
        return "empty object (0 bytes)"
    if len(data) != chunk.size_bytes:
        return f"size mismatch: announced {chunk.size_bytes} bytes, object has {len(data)}"
    digest = hashlib.sha256(data).hexdigest()
    if digest != chunk.sha256.lower():
        return f"sha256 mismatch: announced {chunk.sha256}, object has {digest}"
    return None


def _check_duration(chunk: Row, seconds: float) -> str | None:
    if seconds > max(chunk.duration_sec * ABSURD_FACTOR, settings().max_chunk_duration_sec):
        return f"absurd duration: audio is {seconds:.1f} s, announced {chunk.duration_sec:.1f} s"
    if abs(seconds - chunk.duration_sec) > settings().duration_tolerance_sec:
        return f"duration mismatch: audio is {seconds:.1f} s, announced {chunk.duration_sec:.1f} s"
    return None


def _store(chunk: Row, generation: int, segments: list[tuple[int, int]]) -> None:
    start = epoch_ms(chunk.started_at)
    with transaction() as conn:
        # Duplicate deliveries may run side by side: one writer per chunk at a time.
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": advisory_key(f"vad:{chunk.chunk_id}")},
        )
        conn.execute(
            sa.text("DELETE FROM speech_segments WHERE chunk_id = :c"), {"c": chunk.chunk_id}
        )
        if segments:
            conn.execute(
                sa.text(
                    "INSERT INTO speech_segments (chunk_id, seq, device_id, start_ms, end_ms) "
                    "VALUES (:c, :i, :d, :s, :e)"
                ),
                [
                    {
                        "c": chunk.chunk_id,
                        "i": i,
                        "d": chunk.device_id,
                        "s": start + a,
                        "e": start + b,
                    }
                    for i, (a, b) in enumerate(segments)
                ],
            )
        conn.execute(
            sa.text(
                "UPDATE audio_chunks SET status = :d, error = NULL, object_generation = :g, "
                "processed_at = :t, updated_at = now() WHERE chunk_id = :c"
            ),
            {"d": chunks.DONE, "g": generation, "t": datetime.now(UTC), "c": chunk.chunk_id},
        )


def _done_message(chunk: Row) -> messages.ChunkVadDone:
    start = epoch_ms(chunk.started_at)
    return messages.ChunkVadDone(
        chunk_id=str(chunk.chunk_id),
        device_id=str(chunk.device_id),
        start_ms=start,
        end_ms=start + round(chunk.duration_sec * 1000),
    )


def process(msg: Message) -> None:
    obj = storage_object(msg)
    if obj.event_type and obj.event_type != "OBJECT_FINALIZE":
        raise BadInput(f"ignoring {obj.event_type} of {obj.name}")
    if obj.bucket != settings().audio_bucket or not obj.name.startswith("chunks/"):
        raise BadInput(f"gs://{obj.bucket}/{obj.name} is not a chunk of this pipeline")
    chunk = _find_chunk(obj.name)
    if chunk is None:
        _record_orphan(obj.bucket, obj.name, obj.generation, obj.size)
        return
    extra = {"chunk_id": str(chunk.chunk_id), "device_id": str(chunk.device_id)}
    if not _claim(chunk.chunk_id, obj.generation):
        if chunk.status == chunks.DONE:
            # A repeat: assemble may have missed the first chunk-vad-done.
            messages.publish(_done_message(chunk))
        log.info("repeat notification skipped", extra=extra)
        return
    try:
        data = storage.bucket().blob(obj.name, generation=obj.generation).download_as_bytes()
    except gexc.NotFound:
        _reject(chunk.chunk_id, obj.generation, f"object generation {obj.generation} is gone")
        return
    except gexc.GoogleAPIError as exc:
        raise TransientError(f"reading {obj.name}: {exc}") from exc
    error = _verify(chunk, data)
    if error is None:
        try:
            samples = audio.decode(data)
        except audio.DecodeError as exc:
            error = str(exc)
        else:
            error = _check_duration(chunk, audio.duration_sec(samples))
    if error is not None:
        _reject(chunk.chunk_id, obj.generation, error)
        return
    segments = detector.speech_segments(samples, detector.VadOptions.from_settings())
    _store(chunk, obj.generation, segments)
    messages.publish(_done_message(chunk))
    log.info("chunk done: %d speech segments", len(segments), extra=extra)


@functions_framework.cloud_event
@handler
def vad(msg: Message) -> None:
    process(msg)
