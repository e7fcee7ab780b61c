"""Analyze: the upsell verdict of a dialogue whose transcript is stored.

Pushed from subscription `analyze` (topic transcripts-ready) with a TranscriptReady
payload. Steps: decode the payload (bad → acknowledged); take the dialogue's analysis
lock (a duplicate that meets a live analysis is acknowledged: that delivery's message
stays unacknowledged until it is done, so it answers for the dialogue; a forced one is
redelivered later); claim the dialogue (analysis_status PROCESSING; a duplicate of a
finished analysis is acknowledged); analyse the transcript with the LLM
(masked) or the rules; store the verdict, DONE and the offers checked against the
dialogue's receipt (`receipts.analysed`) in one transaction. Too-short
transcripts end SKIPPED and unusable LLM answers FAILED, with the reason; any other
failure goes back to PENDING with the reason and is raised, so Pub/Sub redelivers it
(and the sweeper re-queues it after a dead letter). Each claim counts an attempt (an
outage of the LLM or database gives it back); the attempt that uses up MAX_ATTEMPTS
leaves the dialogue FAILED with its last error. Only `force` re-analyses a finished
(DONE, FAILED, SKIPPED) dialogue.
"""

from __future__ import annotations

import contextlib
import logging
from uuid import UUID

import functions_framework
from sqlalchemy.engine import Connection

from salescontrol import backlog, lemmas, messages, receipts
from salescontrol.analysis import service, store
from salescontrol.analysis.llm import AnalysisFailed
from salescontrol.config import Settings, settings
from salescontrol.dialogues import AnalysisStatus
from salescontrol.errors import ConfigError, GaveUp, TransientError
from salescontrol.events import Message, handler
from salescontrol.ids import parse_id
from salescontrol.log import setup_logging

setup_logging(settings().log_level, settings().log_format)
log = logging.getLogger("analyze")


def _finish(conn: Connection, dialogue_id: UUID, status: str, reason: str) -> None:
    with conn.begin():
        store.mark(conn, dialogue_id, status, reason)


def _analyze(
    conn: Connection,
    dialogue_id: UUID,
    text: str | None,
    config: Settings,
    analyzer: str,
    ids: dict[str, str],
) -> None:
    """Analyse and store one claimed dialogue, or leave it with its status and reason."""
    if text is None:
        _finish(conn, dialogue_id, AnalysisStatus.FAILED, "no transcript stored for this dialogue")
        log.warning("no transcript, analysis FAILED", extra=ids)
        return
    try:
        with conn.begin():
            turns = store.turns(conn, dialogue_id)
        result = service.analyze_text(text, config, analyzer, turns)
        terms = lemmas.check_terms(text, [offer.product for offer in result.offers])
        with conn.begin():
            receipts.hold(conn, dialogue_id)  # before the analysis row: see receipts.hold
            store.save(conn, dialogue_id, result)
            store.save_review(conn, dialogue_id, result)
            receipts.analysed(conn, dialogue_id, terms)  # the offers against the receipt
    except service.Skipped as exc:
        _finish(conn, dialogue_id, AnalysisStatus.SKIPPED, str(exc))
        log.info("analysis SKIPPED: %s", exc, extra=ids)
        return
    except AnalysisFailed as exc:
        _finish(conn, dialogue_id, AnalysisStatus.FAILED, str(exc))
        log.warning("analysis FAILED: %s", exc, extra=ids)
        return
    except ConfigError as exc:
        # Every dialogue would fail the same way until the setting is fixed: no outage to
        # redeliver through. It waits PENDING with why; the sweeper re-queues it later.
        # The attempt is given back: a wrong setting is not the dialogue's fault.
        with conn.begin():
            error = f"configuration error: {exc}"
            backlog.failed(conn, backlog.ANALYZE, dialogue_id, error, True, config.max_attempts)
            store.mark(conn, dialogue_id, AnalysisStatus.PENDING, error)
        log.error("analysis waits for a configuration fix: %s", exc, extra=ids)
        return
    except Exception as exc:
        # Back to PENDING with the reason (if the database is reachable) so the dashboard
        # shows why; raised so the message is redelivered and the dialogue claimed again,
        # unless that was its last attempt (then FAILED with this error).
        given_up = None
        with contextlib.suppress(Exception), conn.begin():
            error, transient = f"{type(exc).__name__}: {exc}", backlog.is_transient(exc)
            given_up = backlog.failed(
                conn, backlog.ANALYZE, dialogue_id, error, transient, config.max_attempts
            )
            if given_up is None:
                store.mark(conn, dialogue_id, AnalysisStatus.PENDING, f"{exc} (will be retried)")
        if given_up is None:
            raise
        log.error("analysis FAILED: %s", given_up, extra=ids)
        return
    log.info(
        "analysis DONE",
        extra={
            **ids,
            "analyzer": result.analyzer,
            "upsell_attempted": result.upsell_attempted,
            "quality_score": result.quality_score,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
        },
    )


@functions_framework.cloud_event
@handler
def analyze(message: Message) -> None:
    """Analyse one dialogue's transcript (CloudEvent entry point)."""
    payload = messages.parse(messages.TranscriptReady, message)
    dialogue_id = parse_id(payload.dialogue_id, "dialogue_id")
    ids = {"dialogue_id": str(dialogue_id), "message_id": message.message_id}
    config = settings()
    analyzer = service.choose(config)  # a configuration error fails loudly, before claiming
    # One connection for the whole delivery: the one that holds the lock.
    with store.analysis_lock(dialogue_id) as conn:
        if conn is None:
            if payload.force:
                raise TransientError(f"dialogue {dialogue_id} is being analysed; forced later")
            log.info("a live delivery is analysing this dialogue; acknowledged", extra=ids)
            return
        try:
            with conn.begin():
                claim = store.claim(conn, dialogue_id, payload.force)
                if claim.claimed:
                    backlog.take_attempt(
                        conn, backlog.ANALYZE, dialogue_id, config.max_attempts, payload.force
                    )
        except GaveUp as exc:
            _finish(conn, dialogue_id, AnalysisStatus.FAILED, exc.reason)
            log.error("analysis FAILED: %s", exc.reason, extra=ids)
            return
        if not claim.claimed:
            log.info("analysis already %s, nothing to do", claim.status, extra=ids)
            return
        _analyze(conn, dialogue_id, claim.text, config, analyzer, ids)
