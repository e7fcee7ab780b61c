"""Audio chunks (table `audio_chunks`): the bucket layout, the announce-then-upload
handshake and the vad stage's bookkeeping.

A device announces a chunk (its id, time, size and hash) before uploading it. The
announcement is idempotent on `chunk_id`: asking again with the same facts gives a new
upload URL while the object is missing, and "already uploaded" once it is there, so the
device can delete its copy once vad has checked its size and hash (`verified`). Bytes
corrupted on the way (verified false) are sent again, to a new object name, while
attempts last; the corrupt object stays. The same id with different facts is a conflict.

Status: AWAITING_UPLOAD -> UPLOADED -> PROCESSING -> DONE, or REJECTED with `error`.
The vad stage claims a chunk per object generation (a repeated notification of a
generation already DONE or REJECTED is skipped), then rejects it or stores its speech
segments and DONE in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from salescontrol import topology
from salescontrol.db import advisory_key
from salescontrol.errors import Conflict

# codec -> (content type, file extension)
CODECS = {"opus": ("audio/ogg", "ogg"), "wav": ("audio/wav", "wav")}


class ChunkStatus(StrEnum):
    """audio_chunks.status (the SQL CHECK constraint lists the same values)."""

    AWAITING_UPLOAD = "AWAITING_UPLOAD"
    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    REJECTED = "REJECTED"


# The bucket's layout, as topology.yaml names it (Terraform's lifecycle rules read it too).
CHUNKS_PREFIX = topology.load().object_prefixes["chunks"]
DIALOGUES_PREFIX = topology.load().object_prefixes["dialogues"]


def _day_prefix(prefix: str, device_id: UUID, at: datetime) -> str:
    return f"{prefix}{device_id}/{at:%Y/%m/%d}"


def chunk_object_name(device_id: UUID, started_at: datetime, chunk_id: UUID, codec: str) -> str:
    """chunks/{device_id}/YYYY/MM/DD/{start:%Y%m%dT%H%M%SZ}_{chunk_id}.ogg"""
    prefix = _day_prefix(CHUNKS_PREFIX, device_id, started_at)
    return f"{prefix}/{started_at:%Y%m%dT%H%M%SZ}_{chunk_id}.{CODECS[codec][1]}"


def dialogue_object_name(device_id: UUID, started_at: datetime, dialogue_id: UUID) -> str:
    """dialogues/{device_id}/YYYY/MM/DD/{dialogue_id}.ogg"""
    return f"{_day_prefix(DIALOGUES_PREFIX, device_id, started_at)}/{dialogue_id}.ogg"


@dataclass(frozen=True)
class Announcement:
    chunk_id: UUID
    device_id: UUID
    started_at: datetime  # timezone-aware UTC
    duration_sec: float
    size_bytes: int
    sha256: str
    codec: str
    sample_rate: int

    @property
    def object_name(self) -> str:
        return chunk_object_name(self.device_id, self.started_at, self.chunk_id, self.codec)

    @property
    def content_type(self) -> str:
        return CODECS[self.codec][0]


@dataclass(frozen=True)
class Chunk:
    chunk_id: UUID
    status: str
    object_name: str
    created: bool  # True when this announcement created the row


_FACTS = [f.name for f in fields(Announcement) if f.name != "chunk_id"]


def announce(conn: Connection, ann: Announcement, max_attempts: int) -> Chunk:
    """Record an announced chunk, or return the matching existing one (made ready for
    an upload again when its bytes arrived corrupted and attempts are left)."""
    params = {f.name: getattr(ann, f.name) for f in fields(Announcement)}
    row = conn.execute(
        sa.text(
            "INSERT INTO audio_chunks (chunk_id, device_id, started_at, duration_sec, "
            "size_bytes, sha256, codec, sample_rate, object_name) VALUES (:chunk_id, "
            ":device_id, :started_at, :duration_sec, :size_bytes, :sha256, :codec, "
            ":sample_rate, :object_name) ON CONFLICT (chunk_id) DO NOTHING RETURNING status"
        ),
        {**params, "object_name": ann.object_name},
    ).first()
    if row is not None:
        return Chunk(ann.chunk_id, row.status, ann.object_name, created=True)
    existing = conn.execute(
        sa.text("SELECT * FROM audio_chunks WHERE chunk_id = :c FOR UPDATE"), {"c": ann.chunk_id}
    ).one()
    if existing.device_id != ann.device_id:
        # Say nothing about the other device's chunk.
        raise Conflict("chunk_id is already in use; make a new one", "chunk_id")
    for name in _FACTS:
        if getattr(existing, name) != getattr(ann, name):
            raise Conflict(
                f"chunk {ann.chunk_id} was announced before with a different {name}", name
            )
    if corrupted(existing) and existing.attempts < max_attempts:
        # A new object name: the signed URL cannot overwrite, and the corrupt upload stays.
        stem, _, ext = ann.object_name.rpartition(".")
        name = f"{stem}.r{existing.attempts}.{ext}"
        conn.execute(
            sa.text(
                "UPDATE audio_chunks SET status = :a, verified = NULL, object_name = :o, "
                "object_generation = NULL, error = 'sent again after: ' || error, "
                "updated_at = now() WHERE chunk_id = :c"
            ),
            {"a": ChunkStatus.AWAITING_UPLOAD, "o": name, "c": ann.chunk_id},
        )
        return Chunk(ann.chunk_id, ChunkStatus.AWAITING_UPLOAD, name, created=False)
    return Chunk(ann.chunk_id, existing.status, existing.object_name, created=False)


def corrupted(row: Row) -> bool:
    """Whether vad found the uploaded bytes are not the announced ones (sent again)."""
    return row.status == ChunkStatus.REJECTED and row.verified is False and not row.erased_at


def of_device(conn: Connection, device_id: UUID, chunk_ids: list[UUID]) -> list[Row]:
    """The rows of these chunks that belong to the device (others' stay unseen)."""
    return conn.execute(
        sa.text("SELECT * FROM audio_chunks WHERE device_id = :d AND chunk_id = ANY(:ids)"),
        {"d": device_id, "ids": chunk_ids},
    ).all()


def mark_uploaded(conn: Connection, chunk_id: UUID) -> str:
    """AWAITING_UPLOAD -> UPLOADED (no-op in any later state); return the status."""
    return conn.execute(
        sa.text(
            "UPDATE audio_chunks SET status = CASE WHEN status = :a THEN :u ELSE status END, "
            "uploaded_at = COALESCE(uploaded_at, now()), updated_at = now() "
            "WHERE chunk_id = :c RETURNING status"
        ),
        {"a": ChunkStatus.AWAITING_UPLOAD, "u": ChunkStatus.UPLOADED, "c": chunk_id},
    ).scalar_one()


# --- the vad stage ------------------------------------------------------------------


def find_by_object(conn: Connection, object_name: str) -> Row | None:
    """The announced chunk stored under `object_name`, or None."""
    return conn.execute(
        sa.text("SELECT * FROM audio_chunks WHERE object_name = :o"), {"o": object_name}
    ).first()


def record_orphan(conn: Connection, bucket: str, name: str, generation: int, size: int) -> None:
    """Keep a note of an object no announcement names (kept, never processed)."""
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


def claim(conn: Connection, chunk_id: UUID, generation: int) -> bool:
    """Mark the chunk PROCESSING unless this generation is already DONE or REJECTED, or
    the chunk was erased."""
    row = conn.execute(
        sa.text(
            "UPDATE audio_chunks SET status = :p, updated_at = now() WHERE chunk_id = :c AND "
            "erased_at IS NULL AND NOT (status IN (:d, :r) AND object_generation = :g) "
            "RETURNING chunk_id"
        ),
        {
            "p": ChunkStatus.PROCESSING,
            "d": ChunkStatus.DONE,
            "r": ChunkStatus.REJECTED,
            "c": chunk_id,
            "g": generation,
        },
    ).first()
    return row is not None


def reject(
    conn: Connection, chunk_id: UUID, generation: int, error: str, verified: bool | None
) -> None:
    """REJECTED with the reason (and whether the bytes were the announced ones); the
    object stays in the bucket."""
    conn.execute(
        sa.text(
            "UPDATE audio_chunks SET status = :r, error = :e, object_generation = :g, "
            "verified = :v, processed_at = now(), updated_at = now() WHERE chunk_id = :c"
        ),
        {"r": ChunkStatus.REJECTED, "e": error, "g": generation, "v": verified, "c": chunk_id},
    )


def store_speech(
    conn: Connection, chunk: Row, generation: int, start_ms: int, segments: list[tuple[int, int]]
) -> None:
    """Replace the chunk's speech segments (chunk-relative ms, placed at `start_ms` on the
    device timeline) and mark it DONE."""
    # Duplicate deliveries may run side by side: one writer per chunk at a time.
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(f"vad:{chunk.chunk_id}")}
    )
    conn.execute(sa.text("DELETE FROM speech_segments WHERE chunk_id = :c"), {"c": chunk.chunk_id})
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
                    "s": start_ms + a,
                    "e": start_ms + b,
                }
                for i, (a, b) in enumerate(segments)
            ],
        )
    conn.execute(
        sa.text(
            "UPDATE audio_chunks SET status = :d, error = NULL, object_generation = :g, "
            "verified = true, processed_at = :t, updated_at = now() WHERE chunk_id = :c"
        ),
        {"d": ChunkStatus.DONE, "g": generation, "t": datetime.now(UTC), "c": chunk.chunk_id},
    )
