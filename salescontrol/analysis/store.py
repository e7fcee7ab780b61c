"""Reading transcripts and writing verdicts: dialogues.analysis_status and the analysis row.

Status: PENDING → PROCESSING → DONE | FAILED (analysis_error = reason) | SKIPPED (reason).
A transient failure goes back to PENDING with the reason, and the message is redelivered.
A delivery first takes the dialogue's `analysis_lock()`, held for the whole analysis by the
connection the delivery then works on: when another delivery holds it, that one is alive
and answers for the dialogue. Under the lock, `claim()` moves a dialogue to PROCESSING unless it is
already finished (a duplicate delivery: nothing to do); a PROCESSING found there was left
by a delivery that died (its lock went with its connection) and is taken over at once.
A forced re-analysis claims whatever the status. The analysis row is upserted on
dialogue_id, so replays leave one row.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.analysis.schema import Analysis
from salescontrol.analysis.transcript import Turn, turns_from_segments
from salescontrol.db import advisory_key, engine
from salescontrol.dialogues import ANALYSIS_FINISHED, AnalysisStatus
from salescontrol.errors import NotFound


@dataclass(frozen=True)
class Claim:
    status: str  # the status found before claiming
    claimed: bool  # True: this delivery does the work
    text: str | None  # the transcript, when claimed


@contextlib.contextmanager
def analysis_lock(dialogue_id: UUID) -> Iterator[Connection | None]:
    """Hold the dialogue's analysis lock for the block: the connection that holds it (run
    the delivery's transactions on it, `with conn.begin():`), or None when a live delivery
    holds it. A session-level advisory lock on that one connection, so a delivery uses a
    single connection (the functions' pool has one) and one killed mid-way (SIGKILL, a
    lost instance) frees the lock with its session at once; a lease in the row would
    outlive its redeliveries (5 attempts in about 150 s)."""
    key = {"k": advisory_key(f"analyze:{dialogue_id}")}
    with engine().connect() as conn:
        held = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), key).scalar())
        conn.commit()
        if not held:
            yield None
            return
        try:
            yield conn
        finally:
            with contextlib.suppress(sa.exc.DBAPIError):  # a lost connection has no lock
                conn.rollback()
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), key)
                conn.commit()


def claim(conn: Connection, dialogue_id: UUID, force: bool) -> Claim:
    """Lock the dialogue row and take the analysis over unless it is finished (or forced).
    Call it holding `analysis_lock()`: a PROCESSING found then was abandoned."""
    row = conn.execute(
        sa.text(
            "SELECT d.analysis_status, t.text FROM dialogues d"
            " LEFT JOIN dialogue_transcripts t USING (dialogue_id)"
            " WHERE d.dialogue_id = :d FOR UPDATE OF d"
        ),
        {"d": dialogue_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"dialogue {dialogue_id} does not exist")
    status, text = row
    if not force and status in ANALYSIS_FINISHED:
        return Claim(status, False, None)
    _set_status(conn, dialogue_id, AnalysisStatus.PROCESSING, None)
    return Claim(status, True, text)


def _set_status(conn: Connection, dialogue_id: UUID, status: str, error: str | None) -> None:
    conn.execute(  # PROCESSING keeps the last attempt's error (MAX_ATTEMPTS reports it)
        sa.text(
            "UPDATE dialogues SET analysis_status = :s, updated_at = now(), analysis_error = "
            "COALESCE(:e, CASE WHEN :s = 'PROCESSING' THEN analysis_error END) "
            "WHERE dialogue_id = :d"
        ),
        {"d": dialogue_id, "s": status, "e": error},
    )


def mark(conn: Connection, dialogue_id: UUID, status: AnalysisStatus, reason: str) -> None:
    """Leave a dialogue without a verdict: FAILED, SKIPPED or (to retry) PENDING, with why."""
    _set_status(conn, dialogue_id, status, reason[:2000])


def save(conn: Connection, dialogue_id: UUID, result: Analysis) -> None:
    """Upsert the verdict and mark the dialogue DONE, in the caller's transaction."""
    answer = result.answer()
    conn.execute(
        sa.text(
            """
            INSERT INTO dialogue_upsell_analysis (
                dialogue_id, is_sales_dialogue, attempted, accepted, quality_score, offers,
                summary, recommendation, result, analyzer, model, prompt_version,
                prompt_tokens, completion_tokens, cost_usd)
            VALUES (
                :d, :sales, :attempted, :accepted, :score, CAST(:offers AS jsonb),
                :summary, :recommendation, CAST(:result AS jsonb), :analyzer, :model,
                :prompt_version, :pt, :ct, :cost)
            ON CONFLICT (dialogue_id) DO UPDATE SET
                is_sales_dialogue = EXCLUDED.is_sales_dialogue,
                attempted = EXCLUDED.attempted,
                accepted = EXCLUDED.accepted,
                quality_score = EXCLUDED.quality_score,
                offers = EXCLUDED.offers,
                summary = EXCLUDED.summary,
                recommendation = EXCLUDED.recommendation,
                result = EXCLUDED.result,
                analyzer = EXCLUDED.analyzer,
                model = EXCLUDED.model,
                prompt_version = EXCLUDED.prompt_version,
                prompt_tokens = EXCLUDED.prompt_tokens,
                completion_tokens = EXCLUDED.completion_tokens,
                cost_usd = EXCLUDED.cost_usd,
                updated_at = now()
            """
        ),
        {
            "d": dialogue_id,
            "sales": result.is_sales_dialogue,
            "attempted": result.upsell_attempted,
            "accepted": result.customer_accepted,
            "score": result.quality_score,
            "offers": json.dumps(answer["offers"], ensure_ascii=False),
            "summary": result.summary,
            "recommendation": result.recommendation,
            "result": json.dumps(result.to_json(), ensure_ascii=False),
            "analyzer": result.analyzer,
            "model": result.model,
            "prompt_version": result.prompt_version,
            "pt": result.prompt_tokens,
            "ct": result.completion_tokens,
            "cost": result.cost_usd,
        },
    )
    _set_status(conn, dialogue_id, AnalysisStatus.DONE, None)


def turns(conn: Connection, dialogue_id: UUID) -> list[Turn] | None:
    """The transcript's speaker turns, when its segments carry roles."""
    segments = conn.execute(
        sa.text("SELECT segments FROM dialogue_transcripts WHERE dialogue_id = :d"),
        {"d": dialogue_id},
    ).scalar()
    return turns_from_segments(segments)


def save_review(conn: Connection, dialogue_id: UUID, result: Analysis) -> None:
    """Flag a stored verdict for a person to check ("на проверку"), or clear the flag."""
    conn.execute(
        sa.text(
            "UPDATE dialogue_upsell_analysis SET needs_review = :r, review_reason = :why"
            " WHERE dialogue_id = :d"
        ),
        {"d": dialogue_id, "r": result.review is not None, "why": result.review},
    )
