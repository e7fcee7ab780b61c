"""Reading transcripts and writing verdicts: dialogues.analysis_status and the analysis row.

Status: PENDING → PROCESSING → DONE | FAILED (analysis_error = reason) | SKIPPED (reason).
A transient failure goes back to PENDING with the reason, and the message is redelivered.
`claim()` moves a dialogue to PROCESSING unless it is already finished (a duplicate
delivery: nothing to do) or PROCESSING under a live lease (another delivery is on it).
A forced re-analysis claims whatever the status. The analysis row is upserted on
dialogue_id, so replays leave one row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol.analysis.schema import Analysis
from salescontrol.errors import NotFound

PENDING = "PENDING"
PROCESSING = "PROCESSING"
DONE = "DONE"
FAILED = "FAILED"
SKIPPED = "SKIPPED"
FINISHED = (DONE, FAILED, SKIPPED)


@dataclass(frozen=True)
class Claim:
    status: str  # the status found before claiming
    claimed: bool  # True: this delivery does the work
    text: str | None  # the transcript, when claimed


def claim(conn: Connection, dialogue_id: UUID, force: bool, lease_sec: float) -> Claim:
    """Lock the dialogue row and take the analysis over if this delivery should do it."""
    row = conn.execute(
        sa.text(
            "SELECT d.analysis_status, d.updated_at < now() - make_interval(secs => :lease)"
            " AS expired, t.text FROM dialogues d"
            " LEFT JOIN dialogue_transcripts t USING (dialogue_id)"
            " WHERE d.dialogue_id = :d FOR UPDATE OF d"
        ),
        {"d": dialogue_id, "lease": lease_sec},
    ).one_or_none()
    if row is None:
        raise NotFound(f"dialogue {dialogue_id} does not exist")
    status, expired, text = row
    busy = status == PROCESSING and not expired
    if not force and (status in FINISHED or busy):
        return Claim(status, False, None)
    _set_status(conn, dialogue_id, PROCESSING, None)
    return Claim(status, True, text)


def _set_status(conn: Connection, dialogue_id: UUID, status: str, error: str | None) -> None:
    conn.execute(
        sa.text(
            "UPDATE dialogues SET analysis_status = :s, analysis_error = :e, updated_at = now()"
            " WHERE dialogue_id = :d"
        ),
        {"d": dialogue_id, "s": status, "e": error},
    )


def mark(conn: Connection, dialogue_id: UUID, status: str, reason: str) -> None:
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
    _set_status(conn, dialogue_id, DONE, None)
