"""Dialogue assembly with its I/O: read a device's timeline, close what can be closed,
cut each dialogue's audio into the bucket, record it QUEUED and ask for transcription.
Where vad stored voice windows, a queue is split where the customer changes
(`speakers.first_cut`), and a closed stretch where nobody speaks at the microphone (a
radio heard alone) is recorded as background, not a dialogue; without windows, on
silence alone.

Serialised per device with a transaction-scoped advisory lock, so concurrent assemble
calls (and the sweeper) for one device take turns. The algorithm is `timeline.plan`.
Replays are no-ops: a closed span is recorded once (`assembly_spans`), a dialogue row is
inserted once (`dialogue_id = uuid5(device_id, start_ms)`) and its audio object is
written once (an existing object is left as it is).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import numpy as np
import sqlalchemy as sa
from google.api_core import exceptions as gexc
from sqlalchemy.engine import Connection

from salescontrol import (
    audio,
    chunks,
    dialogues,
    messages,
    receipts,
    speakers,
    storage,
    timeline,
    voices,
)
from salescontrol.chunks import ChunkStatus
from salescontrol.config import Settings, settings
from salescontrol.db import advisory_key, transaction
from salescontrol.errors import TransientError

log = logging.getLogger(__name__)

NEVER = -(2**62)  # "since forever" on the timeline


def params(s: Settings | None = None) -> timeline.Params:
    s = s or settings()
    return timeline.Params(
        gap_ms=round(s.silence_gap_sec * 1000),
        max_ms=round(s.max_dialogue_sec * 1000),
        min_speech_ms=round(s.min_dialogue_speech_sec * 1000),
    )


def dialogue_id(device_id: UUID, start_ms: int) -> UUID:
    return uuid.uuid5(device_id, str(start_ms))


def epoch_ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def at_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class ChunkSpan:
    chunk_id: UUID
    start_ms: int
    end_ms: int
    status: str
    object_name: str
    generation: int | None


@dataclass(frozen=True)
class Segment:
    chunk_id: UUID
    seq: int
    start_ms: int
    end_ms: int


def _open_segments(conn: Connection, device_id: UUID) -> list[Segment]:
    rows = conn.execute(
        sa.text(
            "SELECT chunk_id, seq, start_ms, end_ms FROM speech_segments "
            "WHERE device_id = :d AND NOT closed ORDER BY start_ms"
        ),
        {"d": device_id},
    ).all()
    return [Segment(r.chunk_id, r.seq, r.start_ms, r.end_ms) for r in rows]


def _closed_spans(conn: Connection, device_id: UUID, lo: int, hi: int) -> list[timeline.Interval]:
    # A span is at most MAX_DIALOGUE_SEC long; the lower bound on start_ms keeps the
    # index scan to the window (doubled, should the setting have been larger before).
    rows = conn.execute(
        sa.text(
            "SELECT start_ms, end_ms FROM assembly_spans WHERE device_id = :d "
            "AND start_ms >= :earliest AND end_ms >= :lo AND start_ms <= :hi "
            "ORDER BY start_ms"
        ),
        {"d": device_id, "lo": lo, "hi": hi, "earliest": lo - 2 * params().max_ms},
    ).all()
    return [(r.start_ms, r.end_ms) for r in rows]


def _mark_closed(
    conn: Connection, segments: list[Segment], closed: list[timeline.Interval]
) -> None:
    """Flag the segments that now lie wholly inside closed spans."""
    done = [
        {"c": s.chunk_id, "q": s.seq}
        for s in segments
        if not timeline.subtract([(s.start_ms, s.end_ms)], closed)
    ]
    if done:
        conn.execute(
            sa.text("UPDATE speech_segments SET closed = true WHERE chunk_id = :c AND seq = :q"),
            done,
        )


def _chunks(conn: Connection, device_id: UUID, lo: int, hi: int) -> list[ChunkSpan]:
    rows = conn.execute(
        sa.text(
            "SELECT chunk_id, started_at, duration_sec, status, object_name, object_generation "
            "FROM audio_chunks WHERE device_id = :d AND started_at <= :hi "
            "AND started_at >= :earliest "
            "AND started_at + make_interval(secs => duration_sec) >= :lo ORDER BY started_at"
        ),
        {
            "d": device_id,
            "lo": at_ms(max(lo, 0)),
            "hi": at_ms(hi),
            "earliest": at_ms(max(lo, 0)) - timedelta(seconds=settings().max_chunk_duration_sec),
        },
    ).all()
    return [
        ChunkSpan(
            r.chunk_id,
            epoch_ms(r.started_at),
            epoch_ms(r.started_at) + round(r.duration_sec * 1000),
            r.status,
            r.object_name,
            r.object_generation,
        )
        for r in rows
    ]


def _first_chunk_ms(conn: Connection, device_id: UUID) -> int | None:
    first = conn.execute(
        sa.text("SELECT min(started_at) FROM audio_chunks WHERE device_id = :d"), {"d": device_id}
    ).scalar_one()
    return None if first is None else epoch_ms(first)


def known_timeline(
    conn: Connection, device_id: UUID, lo: int, hi: int
) -> tuple[list[timeline.Interval], list[ChunkSpan]]:
    """What is known of [lo, hi]: processed or rejected chunks, closed spans, and all
    time before the device's first chunk; plus the chunks themselves."""
    spans = _chunks(conn, device_id, lo, hi)
    covered = [
        (c.start_ms, c.end_ms)
        for c in spans
        if c.status in (ChunkStatus.DONE, ChunkStatus.REJECTED)
    ]
    covered += _closed_spans(conn, device_id, lo, hi)
    first = _first_chunk_ms(conn, device_id)
    if first is not None:
        covered.append((NEVER, first))
    return timeline.merge(covered), spans


class _ChunkAudio:
    """Decoded chunk audio, fetched once per assembly run."""

    def __init__(self) -> None:
        self.cache: dict[UUID, np.ndarray | None] = {}

    def get(self, chunk: ChunkSpan) -> np.ndarray | None:
        if chunk.chunk_id not in self.cache:
            try:
                blob = storage.bucket().blob(chunk.object_name, generation=chunk.generation)
                data = blob.download_as_bytes()
            except gexc.NotFound:
                log.warning("chunk object is gone", extra={"chunk_id": str(chunk.chunk_id)})
                data = None
            except gexc.GoogleAPIError as exc:
                raise TransientError(f"reading {chunk.object_name}: {exc}") from exc
            self.cache[chunk.chunk_id] = None if data is None else audio.decode(data)
        return self.cache[chunk.chunk_id]


def cut(chunk_list: list[ChunkSpan], fetch: _ChunkAudio, start_ms: int, end_ms: int) -> np.ndarray:
    """Audio of [start_ms, end_ms] from processed chunks; missing stretches are silence."""
    out = np.zeros(round((end_ms - start_ms) * audio.RATE / 1000), dtype=np.float32)
    for chunk in chunk_list:
        if chunk.status != ChunkStatus.DONE or chunk.end_ms <= start_ms or chunk.start_ms >= end_ms:
            continue
        samples = fetch.get(chunk)
        if samples is None:
            continue
        offset = round((chunk.start_ms - start_ms) * audio.RATE / 1000)
        src_from = max(0, -offset)
        dst_from = max(0, offset)
        n = min(len(samples) - src_from, len(out) - dst_from)
        if n > 0:
            out[dst_from : dst_from + n] = samples[src_from : src_from + n]
    return out


def _upload_once(object_name: str, data: bytes) -> None:
    blob = storage.bucket().blob(object_name)
    try:
        blob.upload_from_string(data, content_type="audio/ogg", if_generation_match=0)
    except gexc.PreconditionFailed:
        pass  # written by an earlier delivery: the first copy stays
    except gexc.GoogleAPIError as exc:
        raise TransientError(f"writing {object_name}: {exc}") from exc


def _close(
    conn: Connection,
    device_id: UUID,
    span: timeline.Span,
    kind: voices.SpanKind,
    chunk_list: list[ChunkSpan],
    fetch: _ChunkAudio,
) -> messages.AsrRequest | None:
    inserted = conn.execute(
        sa.text(
            "INSERT INTO assembly_spans (device_id, start_ms, end_ms, speech_ms, kind, closed_by) "
            "VALUES (:d, :s, :e, :sp, :k, :c) ON CONFLICT DO NOTHING RETURNING start_ms"
        ),
        {
            "d": device_id,
            "s": span.start_ms,
            "e": span.end_ms,
            "sp": span.speech_ms,
            "k": kind.value,
            "c": "sweeper" if span.forced else "evidence",
        },
    ).first()
    if inserted is None or kind != voices.SpanKind.DIALOGUE:
        if inserted is not None:
            log.info(
                f"dropped a span: {kind.value}",
                extra={"device_id": str(device_id), "start_ms": span.start_ms},
            )
        return None
    did = dialogue_id(device_id, span.start_ms)
    started_at = at_ms(span.start_ms)
    object_name = chunks.dialogue_object_name(device_id, started_at, did)
    pad = round(settings().dialogue_pad_sec * 1000)
    clip = cut(chunk_list, fetch, span.start_ms - pad, span.end_ms + pad)
    _upload_once(object_name, audio.encode_opus(clip))
    dialogues.create(
        conn,
        did,
        device_id,
        (span.start_ms, span.end_ms),
        (started_at, at_ms(span.end_ms)),
        span.speech_ms / 1000,
        object_name,
    )
    receipts.dialogue_added(conn, did)  # a receipt that came first finds its dialogue
    log.info(
        "dialogue closed",
        extra={"device_id": str(device_id), "dialogue_id": str(did), "forced": span.forced},
    )
    return messages.AsrRequest(dialogue_id=str(did), audio_object=object_name)


def assemble_device(
    device_id: UUID, force: bool = False, force_before_ms: int | None = None
) -> list[messages.AsrRequest]:
    """Close every span of `device_id` that can be closed now; publish ASR requests.

    `force` closes all open speech without evidence, `force_before_ms` the groups that
    end by then (the sweeper's two cases)."""
    p = params()
    requests: list[messages.AsrRequest] = []
    with transaction() as conn:
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": advisory_key(f"assemble:{device_id}")},
        )
        segments = _open_segments(conn, device_id)
        if not segments:
            return []
        lo = segments[0].start_ms - p.gap_ms - p.max_ms
        hi = max(s.end_ms for s in segments) + p.gap_ms + p.max_ms
        covered, chunk_list = known_timeline(conn, device_id, lo, hi)
        closed = _closed_spans(conn, device_id, lo, hi)
        open_parts = timeline.subtract([(s.start_ms, s.end_ms) for s in segments], closed)
        heard = voices.windows(conn, device_id, lo, hi)
        voice = speakers.Params()
        cut = voices.cutter(heard, voice) if heard else None
        spans = timeline.plan(open_parts, covered, p, force, force_before_ms, cut)
        fetch = _ChunkAudio()
        for span in spans:
            kind = voices.span_kind(span, heard, voice)
            request = _close(conn, device_id, span, kind, chunk_list, fetch)
            if request is not None:
                requests.append(request)
        _mark_closed(
            conn, segments, timeline.merge(closed + [(s.start_ms, s.end_ms) for s in spans])
        )
    # Published only after the commit; a crash in between leaves the dialogue QUEUED,
    # and the sweeper re-queues it after STUCK_TIMEOUT_SEC.
    for request in requests:
        messages.publish(request)
    return requests
