"""vad: a chunk landed in the bucket -> its speech segments on the device timeline.

Triggered by the OBJECT_FINALIZE notification of chunks/ (push subscription `vad`).
1. parse: the notification must be an OBJECT_FINALIZE of a chunk of this bucket;
2. claim: find the announced chunk of the object (none: record an orphan object, ack)
   and mark it PROCESSING, unless this generation is already DONE or REJECTED
   (notifications repeat) — then republish a DONE chunk's chunk-vad-done and ack; a
   chunk that has used MAX_ATTEMPTS is REJECTED with its last error instead;
3. work: check size and sha256 against the announcement (the device's copy waits for
   this verdict), read the audio header against the announcement, decode in bounded
   blocks, check the duration, detect speech; a bad chunk is REJECTED with the reason
   (the object is kept); split off a loudspeaker's speech (radio, TV) and embed the
   voices of the rest (`voiceprint`);
4. commit the segments, windows, background speech and DONE, then publish
   chunk-vad-done.
A failure of the work itself is recorded on the chunk and raised (redelivered); the
attempt that uses up MAX_ATTEMPTS rejects the chunk instead (`salescontrol.backlog`).
The SQL is `salescontrol.chunks`'.
"""

from __future__ import annotations

import hashlib
import logging

import functions_framework
import voiceprint
from google.api_core import exceptions as gexc
from sqlalchemy.engine import Row

from salescontrol import audio, backlog, chunks, messages, storage
from salescontrol import vad as detector
from salescontrol.assembly import epoch_ms
from salescontrol.chunks import ChunkStatus
from salescontrol.config import settings
from salescontrol.db import transaction
from salescontrol.errors import BadInput, GaveUp, TransientError
from salescontrol.events import OBJECT_FINALIZE, Message, StorageObject, handler, storage_object
from salescontrol.log import setup_logging

setup_logging(settings().log_level, settings().log_format)
log = logging.getLogger("vad")

# Decoded audio longer than this is absurd whatever was announced.
ABSURD_FACTOR = 2.0


def _check_size(chunk: Row, size: int) -> str | None:
    if size == 0:
        return "empty object (0 bytes)"
    if size != chunk.size_bytes:
        return f"size mismatch: announced {chunk.size_bytes} bytes, object has {size}"
    return None


def _verify(chunk: Row, data: bytes) -> str | None:
    """Why these bytes are not the announced chunk, or None."""
    error = _check_size(chunk, len(data))
    if error is not None:
        return error
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


def _done_message(chunk: Row) -> messages.ChunkVadDone:
    start = epoch_ms(chunk.started_at)
    return messages.ChunkVadDone(
        chunk_id=str(chunk.chunk_id),
        device_id=str(chunk.device_id),
        start_ms=start,
        end_ms=start + round(chunk.duration_sec * 1000),
    )


def _parse(msg: Message) -> StorageObject:
    obj = storage_object(msg)
    if obj.event_type and obj.event_type != OBJECT_FINALIZE:
        raise BadInput(f"ignoring {obj.event_type} of {obj.name}")
    if obj.bucket != settings().audio_bucket or not obj.name.startswith(chunks.CHUNKS_PREFIX):
        raise BadInput(f"gs://{obj.bucket}/{obj.name} is not a chunk of this pipeline")
    return obj


def _claim(obj: StorageObject) -> Row | None:
    """The chunk, now PROCESSING; None when there is nothing to do (orphan or repeat)."""
    with transaction() as conn:
        chunk = chunks.find_by_object(conn, obj.name)
        if chunk is None:
            chunks.record_orphan(conn, obj.bucket, obj.name, obj.generation, obj.size)
            log.warning("orphan object recorded", extra={"object": obj.name})
            return None
        try:
            claimed = chunks.claim(conn, chunk.chunk_id, obj.generation)
            if claimed:
                max_attempts = settings().max_attempts
                backlog.take_attempt(conn, backlog.VAD, chunk.chunk_id, max_attempts, False)
        except GaveUp as exc:
            backlog.give_up(conn, backlog.VAD, chunk.chunk_id, exc.reason)
            log.error("chunk rejected: %s", exc.reason, extra={"chunk_id": str(chunk.chunk_id)})
            return None
    if not claimed:
        if chunk.status == ChunkStatus.DONE:
            # A repeat: assemble may have missed the first chunk-vad-done.
            messages.publish(_done_message(chunk))
        log.info("repeat notification skipped", extra={"chunk_id": str(chunk.chunk_id)})
        return None
    return chunk


def _speech(chunk: Row, obj: StorageObject) -> tuple[voiceprint.Speech | str, bool]:
    """The chunk's speech, or why it is rejected; and whether the object holds the
    announced bytes (False: the device sends them again)."""
    if obj.size and (error := _check_size(chunk, obj.size)):
        return error, False  # known from the notification: no download
    try:
        data = storage.bucket().blob(obj.name, generation=obj.generation).download_as_bytes()
    except gexc.NotFound:
        return f"object generation {obj.generation} is gone", False
    except gexc.GoogleAPIError as exc:
        raise TransientError(f"reading {obj.name}: {exc}") from exc
    error = _verify(chunk, data)
    if error is not None:
        return error, False
    longest = chunk.duration_sec + settings().duration_tolerance_sec
    try:
        samples = audio.decode(data, chunk.sample_rate, longest)
    except audio.DecodeError as exc:
        return str(exc), True
    error = _check_duration(chunk, audio.duration_sec(samples))
    if error is not None:
        return error, True
    found = detector.speech_segments(samples, detector.VadOptions.from_settings())
    return voiceprint.analyse(samples, found), True


def _failed(chunk: Row, exc: Exception) -> str | None:
    """Record why this attempt failed; GaveUp's reason when it was the last one."""
    transient = backlog.is_transient(exc)
    try:
        with transaction() as conn:
            return backlog.failed(
                conn,
                backlog.VAD,
                chunk.chunk_id,
                f"{type(exc).__name__}: {exc}",
                transient,
                settings().max_attempts,
            )
    except Exception:  # the database is down: the error is in the log, the attempt counts
        log.exception("could not record the failure", extra={"chunk_id": str(chunk.chunk_id)})
        return None


def process(msg: Message) -> None:
    obj = _parse(msg)
    chunk = _claim(obj)
    if chunk is None:
        return
    extra = {"chunk_id": str(chunk.chunk_id), "device_id": str(chunk.device_id)}
    try:
        speech, verified = _speech(chunk, obj)
        with transaction() as conn:
            if isinstance(speech, str):
                chunks.reject(conn, chunk.chunk_id, obj.generation, speech, verified)
            else:
                start = epoch_ms(chunk.started_at)
                chunks.store_speech(conn, chunk, obj.generation, start, speech.segments)
                voiceprint.store(conn, chunk.chunk_id, chunk.device_id, start, speech)
    except Exception as exc:
        given_up = _failed(chunk, exc)
        if given_up is None:
            raise  # redelivered
        log.error("chunk rejected: %s", given_up, extra=extra)
        return
    if isinstance(speech, str):
        log.warning("chunk rejected: %s", speech, extra=extra)
        return
    messages.publish(_done_message(chunk))
    log.info(
        "chunk done: %d speech segments, %d background",
        len(speech.segments),
        len(speech.background),
        extra=extra,
    )


@functions_framework.cloud_event
@handler
def vad(msg: Message) -> None:
    process(msg)
