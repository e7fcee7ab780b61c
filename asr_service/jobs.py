"""One asr-request, idempotently: claim the dialogue, transcribe, store, then announce.

Statuses follow design.md: QUEUED/PENDING -> PROCESSING -> DONE | FAILED (with reason).
Each claim counts an attempt; a failed one is recorded by `failed()` and, once
MAX_ATTEMPTS are used, the dialogue is FAILED for good (`salescontrol.backlog`).
A dialogue already DONE is not transcribed again unless the request forces it; its
transcripts-ready message is published again, since a crash between commit and publish
would otherwise lose it (the analyze stage is idempotent too).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from requests import RequestException

from asr_service import roles
from asr_service.engine import Engine, decode
from asr_service.transcribe import RATE, Transcript
from salescontrol import backlog, db, dialogues, messages, storage
from salescontrol.config import settings
from salescontrol.dialogues import AsrStatus
from salescontrol.errors import BadInput, TransientError
from salescontrol.ids import parse_id
from salescontrol.messages import AsrRequest, TranscriptReady

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: str  # DONE, or "skipped" for a dialogue that was already done
    transcript: Transcript | None = None


def _download(object_name: str) -> bytes:
    try:
        return storage.bucket().blob(object_name).download_as_bytes()
    except gexc.NotFound:
        raise BadInput(f"audio object {object_name} is missing", "audio_object") from None
    except (gexc.GoogleAPIError, RequestException) as exc:
        raise TransientError(f"downloading {object_name}: {exc}") from exc


def _columns(transcript: Transcript, tier: str) -> dict[str, Any]:
    """The transcript row's columns (dialogues.store_transcript)."""
    return {
        "text": transcript.text,
        "segments": transcript.segments,
        "language": transcript.language,
        "model": transcript.model,
        "tier": tier,
        "avg_logprob": transcript.avg_logprob,
        "audio_sec": transcript.audio_sec,
        "processing_sec": transcript.processing_sec,
        "options": {**transcript.options, "dropped": transcript.dropped},
    }


def mark(dialogue_id: str, status: AsrStatus, error: str | None = None) -> None:
    """Set a dialogue's asr_status (FAILED with its reason, or back to QUEUED)."""
    with db.transaction() as conn:
        dialogues.set_asr_status(conn, parse_id(dialogue_id, "dialogue_id"), status, error)


def failed(dialogue_id: str, exc: Exception, transient: bool) -> str | None:
    """Record a failed attempt (a transient one is given back); GaveUp's reason when the
    dialogue has now used MAX_ATTEMPTS and is FAILED."""
    with db.transaction() as conn:
        key = parse_id(dialogue_id, "dialogue_id")
        error = f"{type(exc).__name__}: {exc}"
        return backlog.failed(conn, backlog.ASR, key, error, transient, settings().max_attempts)


def process(request: AsrRequest, engine: Engine, stop: threading.Event | None = None) -> Outcome:
    """Do one request; BadInput/TransientError/Interrupted propagate to the worker."""
    dialogue_id = parse_id(request.dialogue_id, "dialogue_id")
    with db.transaction() as conn:
        claimed = dialogues.claim_asr(conn, dialogue_id, request.force)
        if claimed:  # GaveUp (a BadInput: FAILED with it) once MAX_ATTEMPTS are used
            max_attempts = settings().max_attempts
            backlog.take_attempt(conn, backlog.ASR, dialogue_id, max_attempts, request.force)
    if not claimed:
        messages.publish(TranscriptReady(request.dialogue_id))
        return Outcome("skipped")
    audio = decode(_download(request.audio_object), request.audio_object)
    transcript, tier = engine.run(audio, request.tier, request.language or None, stop)
    with db.transaction() as conn:
        transcript.segments = roles.label(conn, dialogue_id, transcript.segments, len(audio) / RATE)
        dialogues.store_transcript(conn, dialogue_id, _columns(transcript, tier))
    messages.publish(TranscriptReady(request.dialogue_id, force=request.force))
    return Outcome(AsrStatus.DONE, transcript)
