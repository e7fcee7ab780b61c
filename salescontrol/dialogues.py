"""Dialogues (table `dialogues`, with `dialogue_transcripts`): statuses and the SQL of
the stages that move them.

asr_status:      PENDING -> QUEUED -> PROCESSING -> DONE | FAILED (asr_error = reason)
analysis_status: PENDING -> PROCESSING -> DONE | FAILED | SKIPPED (analysis_error = reason)

Assembly creates a dialogue QUEUED (idempotent on its uuid5 id); the ASR worker claims
it (PROCESSING), stores one transcript row (upsert) and marks it DONE; the analysis
stage's SQL is in `analysis.store`.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.errors import BadInput


class AsrStatus(StrEnum):
    """dialogues.asr_status (the SQL CHECK constraint lists the same values)."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    FAILED = "FAILED"


class AnalysisStatus(StrEnum):
    """dialogues.analysis_status (the SQL CHECK constraint lists the same values)."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


ANALYSIS_FINISHED = (AnalysisStatus.DONE, AnalysisStatus.FAILED, AnalysisStatus.SKIPPED)


def create(
    conn: Connection,
    dialogue_id: UUID,
    device_id: UUID,
    span_ms: tuple[int, int],
    times: tuple[datetime, datetime],
    speech_sec: float,
    audio_object: str,
) -> None:
    """Insert a closed dialogue, QUEUED for ASR, with its device's point and register
    (nothing when it exists: its id is derived from the device and start)."""
    conn.execute(
        sa.text(
            "INSERT INTO dialogues (dialogue_id, device_id, point_id, register_id, start_ms, "
            "end_ms, started_at, ended_at, speech_sec, audio_object, asr_status) "
            "SELECT :id, d.device_id, d.point_id, d.register_id, :s, :e, :sa, :ea, :sp, :o, "
            ":q FROM devices d WHERE d.device_id = :d ON CONFLICT DO NOTHING"
        ),
        {
            "id": dialogue_id,
            "d": device_id,
            "s": span_ms[0],
            "e": span_ms[1],
            "sa": times[0],
            "ea": times[1],
            "sp": speech_sec,
            "o": audio_object,
            "q": AsrStatus.QUEUED,
        },
    )


def claim_asr(conn: Connection, dialogue_id: UUID, force: bool) -> bool:
    """Mark the dialogue PROCESSING; False when it is DONE and not forced."""
    status = conn.execute(
        sa.text("SELECT asr_status FROM dialogues WHERE dialogue_id = :d FOR UPDATE"),
        {"d": dialogue_id},
    ).scalar_one_or_none()
    if status is None:
        raise BadInput(f"dialogue {dialogue_id} does not exist", "dialogue_id")
    if status == AsrStatus.DONE and not force:
        return False
    set_asr_status(conn, dialogue_id, AsrStatus.PROCESSING)
    return True


def set_asr_status(
    conn: Connection, dialogue_id: UUID, status: AsrStatus, error: str | None = None
) -> None:
    """Set asr_status (and asr_error: the reason of a FAILED; PROCESSING keeps the last
    attempt's, else cleared)."""
    conn.execute(
        sa.text(
            "UPDATE dialogues SET asr_status = :s, updated_at = now(), asr_error = COALESCE("
            ":e, CASE WHEN :s = 'PROCESSING' THEN asr_error END) WHERE dialogue_id = :d"
        ),
        {"s": status, "e": error, "d": dialogue_id},
    )


def store_transcript(conn: Connection, dialogue_id: UUID, transcript: dict[str, Any]) -> None:
    """Upsert the dialogue's one transcript row and mark its ASR DONE.

    `transcript` holds the columns: text, segments, language, model, tier, avg_logprob,
    audio_sec, processing_sec, options (segments and options as JSON-able values)."""
    row = {
        **transcript,
        "segments": json.dumps(transcript["segments"], ensure_ascii=False),
        "options": json.dumps(transcript["options"], ensure_ascii=False),
    }
    conn.execute(
        sa.text(
            """
            INSERT INTO dialogue_transcripts (dialogue_id, text, segments, language, model,
                tier, avg_logprob, audio_sec, processing_sec, options)
            VALUES (:d, :text, CAST(:segments AS jsonb), :language, :model, :tier,
                :avg_logprob, :audio_sec, :processing_sec, CAST(:options AS jsonb))
            ON CONFLICT (dialogue_id) DO UPDATE SET text = EXCLUDED.text,
                segments = EXCLUDED.segments, language = EXCLUDED.language,
                model = EXCLUDED.model, tier = EXCLUDED.tier,
                avg_logprob = EXCLUDED.avg_logprob, audio_sec = EXCLUDED.audio_sec,
                processing_sec = EXCLUDED.processing_sec, options = EXCLUDED.options,
                updated_at = now()
            """
        ),
        {"d": dialogue_id, **row},
    )
    set_asr_status(conn, dialogue_id, AsrStatus.DONE)
