"""Audio chunks: the bucket layout and the announce-then-upload handshake.

A device announces a chunk (its id, time, size and hash) before uploading it. The
announcement is idempotent on `chunk_id`: asking again with the same facts gives a new
upload URL while the object is missing, and "already uploaded" once it is there, so the
device can delete its copy. The same id with different facts is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.errors import Conflict

# codec -> (content type, file extension)
CODECS = {"opus": ("audio/ogg", "ogg"), "wav": ("audio/wav", "wav")}

AWAITING_UPLOAD = "AWAITING_UPLOAD"
UPLOADED = "UPLOADED"
PROCESSING = "PROCESSING"
DONE = "DONE"
REJECTED = "REJECTED"


def _day_prefix(kind: str, device_id: UUID, at: datetime) -> str:
    return f"{kind}/{device_id}/{at:%Y/%m/%d}"


def chunk_object_name(device_id: UUID, started_at: datetime, chunk_id: UUID, codec: str) -> str:
    """chunks/{device_id}/YYYY/MM/DD/{start:%Y%m%dT%H%M%SZ}_{chunk_id}.ogg"""
    prefix = _day_prefix("chunks", device_id, started_at)
    return f"{prefix}/{started_at:%Y%m%dT%H%M%SZ}_{chunk_id}.{CODECS[codec][1]}"


def dialogue_object_name(device_id: UUID, started_at: datetime, dialogue_id: UUID) -> str:
    """dialogues/{device_id}/YYYY/MM/DD/{dialogue_id}.ogg"""
    return f"{_day_prefix('dialogues', device_id, started_at)}/{dialogue_id}.ogg"


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


def announce(conn: Connection, ann: Announcement) -> Chunk:
    """Record an announced chunk, or return the matching existing one."""
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
    return Chunk(ann.chunk_id, existing.status, existing.object_name, created=False)


def mark_uploaded(conn: Connection, chunk_id: UUID) -> str:
    """AWAITING_UPLOAD -> UPLOADED (no-op in any later state); return the status."""
    return conn.execute(
        sa.text(
            "UPDATE audio_chunks SET status = CASE WHEN status = :a THEN :u ELSE status END, "
            "uploaded_at = COALESCE(uploaded_at, now()), updated_at = now() "
            "WHERE chunk_id = :c RETURNING status"
        ),
        {"a": AWAITING_UPLOAD, "u": UPLOADED, "c": chunk_id},
    ).scalar_one()
