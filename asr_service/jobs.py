"""One asr-request, idempotently: claim the dialogue, transcribe, store, then announce.

Statuses follow design.md: QUEUED/PENDING -> PROCESSING -> DONE | FAILED (with reason).
A dialogue already DONE is not transcribed again unless the request forces it; its
transcripts-ready message is published again, since a crash between commit and publish
would otherwise lose it (the analyze stage is idempotent too).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from google.api_core import exceptions as gexc
from requests import RequestException

from asr_service.engine import Engine, decode
from asr_service.transcribe import Transcript
from salescontrol import db, messages, storage
from salescontrol.errors import BadInput, TransientError
from salescontrol.messages import AsrRequest, TranscriptReady

log = logging.getLogger(__name__)

PROCESSING = "PROCESSING"
DONE = "DONE"
FAILED = "FAILED"
QUEUED = "QUEUED"


@dataclass(frozen=True)
class Outcome:
    status: str  # DONE, or "skipped" for a dialogue that was already done
    transcript: Transcript | None = None


def _claim(request: AsrRequest) -> bool:
    """Mark the dialogue PROCESSING; False when it is DONE and the request is not forced."""
    with db.transaction() as conn:
        status = conn.execute(
            sa.text("SELECT asr_status FROM dialogues WHERE dialogue_id = :d FOR UPDATE"),
            {"d": request.dialogue_id},
        ).scalar_one_or_none()
        if status is None:
            raise BadInput(f"dialogue {request.dialogue_id} does not exist", "dialogue_id")
        if status == DONE and not request.force:
            return False
        conn.execute(
            sa.text(
                "UPDATE dialogues SET asr_status = :s, asr_error = NULL, updated_at = now() "
                "WHERE dialogue_id = :d"
            ),
            {"s": PROCESSING, "d": request.dialogue_id},
        )
    return True


def _download(object_name: str) -> bytes:
    try:
        return storage.bucket().blob(object_name).download_as_bytes()
    except gexc.NotFound:
        raise BadInput(f"audio object {object_name} is missing", "audio_object") from None
    except (gexc.GoogleAPIError, RequestException) as exc:
        raise TransientError(f"downloading {object_name}: {exc}") from exc


def _store(request: AsrRequest, transcript: Transcript, tier: str) -> None:
    with db.transaction() as conn:
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
            {
                "d": request.dialogue_id,
                "text": transcript.text,
                "segments": json.dumps(transcript.segments, ensure_ascii=False),
                "language": transcript.language,
                "model": transcript.model,
                "tier": tier,
                "avg_logprob": transcript.avg_logprob,
                "audio_sec": transcript.audio_sec,
                "processing_sec": transcript.processing_sec,
                "options": json.dumps(
                    {**transcript.options, "dropped": transcript.dropped}, ensure_ascii=False
                ),
            },
        )
        _set_status(conn, request.dialogue_id, DONE)


def _set_status(
    conn: sa.Connection, dialogue_id: str, status: str, error: str | None = None
) -> None:
    conn.execute(
        sa.text(
            "UPDATE dialogues SET asr_status = :s, asr_error = :e, updated_at = now() "
            "WHERE dialogue_id = :d"
        ),
        {"s": status, "e": error, "d": dialogue_id},
    )


def mark(dialogue_id: str, status: str, error: str | None = None) -> None:
    """Set a dialogue's asr_status (FAILED with its reason, or back to QUEUED)."""
    with db.transaction() as conn:
        _set_status(conn, dialogue_id, status, error)


def process(request: AsrRequest, engine: Engine, stop: threading.Event | None = None) -> Outcome:
    """Do one request; BadInput/TransientError/Interrupted propagate to the worker."""
    try:
        uuid.UUID(request.dialogue_id)
    except ValueError:
        raise BadInput(
            f"dialogue_id {request.dialogue_id!r} is not a UUID", "dialogue_id"
        ) from None
    if not _claim(request):
        messages.publish(TranscriptReady(request.dialogue_id))
        return Outcome("skipped")
    audio = decode(_download(request.audio_object), request.audio_object)
    transcript, tier = engine.run(audio, request.tier, request.language or None, stop)
    _store(request, transcript, tier)
    messages.publish(TranscriptReady(request.dialogue_id, force=request.force))
    return Outcome(DONE, transcript)
