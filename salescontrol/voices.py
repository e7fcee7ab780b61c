"""Speech windows on a device's timeline as assembly reads them (vad writes them:
functions/vad/voiceprint.py), and the embedding's storage format (float16 bytes)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import speakers, timeline


class SpanKind(StrEnum):
    """assembly_spans.kind (the SQL CHECK constraint lists the same values)."""

    DIALOGUE = "dialogue"
    BLIP = "blip"  # too little speech
    BACKGROUND = "background"  # nobody at the microphone: a radio heard alone


def pack(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def unpack(data: bytes | None) -> np.ndarray | None:
    if data is None:
        return None
    return speakers.unit(np.frombuffer(bytes(data), dtype="<f2").astype(np.float32))


def windows(conn: Connection, device_id: UUID, lo: int, hi: int) -> list[speakers.Window]:
    """The device's speech windows starting in [lo, hi), in time order."""
    rows = conn.execute(
        sa.text(
            "SELECT start_ms, end_ms, level_db, embedding FROM speech_windows "
            "WHERE device_id = :d AND start_ms >= :lo AND start_ms < :hi ORDER BY start_ms"
        ),
        {"d": device_id, "lo": lo, "hi": hi},
    ).all()
    return [speakers.Window(r.start_ms, r.end_ms, unpack(r.embedding), r.level_db) for r in rows]


def cutter(windows: list[speakers.Window], params: speakers.Params) -> Any:
    """timeline.plan's `cut` over these windows."""

    def cut(segments: list[tuple[int, int]]) -> int | None:
        a, b = segments[0][0], segments[-1][1]
        inside = [w for w in windows if a <= w.start_ms < b]
        return speakers.first_cut(segments, inside, params)

    return cut


def span_kind(
    span: timeline.Span, windows: list[speakers.Window], params: speakers.Params
) -> SpanKind:
    """What a closed span is, by its own windows (so the same under any delivery order)."""
    if span.blip:
        return SpanKind.BLIP
    inside = [w for w in windows if span.start_ms <= w.start_ms < span.end_ms]
    return SpanKind.DIALOGUE if speakers.at_microphone(inside, params) else SpanKind.BACKGROUND
