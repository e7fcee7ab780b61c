"""What one recipient's digest of one day says, read from the database within the points
the recipient may see: the day's figures against the 7 days before it (the figures of
`salescontrol.analytics`, the ones the dashboard and the API show), the best and the
worst register (and seller, where sellers are known), three example dialogues, and what
is stuck or refused in the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import analytics, backlog
from salescontrol.chunks import ChunkStatus
from salescontrol.config import settings
from salescontrol.dialogues import AnalysisStatus, AsrStatus

COMPARE_DAYS = 7
MIN_SALES = 3  # a register is ranked on at least this many sales dialogues, if any has


@dataclass(frozen=True)
class Place:
    """A register (or seller) of the day and its figures."""

    point: str | None
    name: str | None
    figures: analytics.Figures


@dataclass(frozen=True)
class Example:
    """A dialogue worth opening: `kind` is best (accepted upsell), refused (an offer the
    customer declined) or missed (a sale without an offer)."""

    kind: str
    dialogue_id: UUID
    started_at: datetime
    point: str | None
    register: str | None
    quality: int | None
    summary: str | None
    offers: list[str]


@dataclass(frozen=True)
class Pipeline:
    """What the pipeline did not finish: now (stuck), and of the day (refused, failed)."""

    stuck: int = 0
    rejected_chunks: int = 0
    rejected_reasons: list[str] = field(default_factory=list)
    asr_failed: int = 0
    analysis_failed: int = 0
    unassigned_receipts: int = 0

    @property
    def clean(self) -> bool:
        return (
            not any((self.stuck, self.rejected_chunks, self.asr_failed, self.analysis_failed))
            and not self.unassigned_receipts
        )


@dataclass(frozen=True)
class Digest:
    day: date
    name: str  # whom it is for
    figures: analytics.Figures  # the day
    before: analytics.Figures  # the COMPARE_DAYS days before it, added up
    best: Place | None
    worst: Place | None
    best_seller: Place | None
    worst_seller: Place | None
    examples: list[Example]
    pipeline: Pipeline


def _ranked(places: dict[Any, Place]) -> tuple[Place | None, Place | None]:
    """The best and the worst place by upsell rate (then quality): among those with
    MIN_SALES sales dialogues if any has, else among all with one; one place: no worst."""
    candidates = [p for p in places.values() if p.figures.sales_dialogues >= MIN_SALES] or [
        p for p in places.values() if p.figures.sales_dialogues
    ]
    if not candidates:
        return None, None
    candidates.sort(
        key=lambda p: (p.figures.upsell_rate or 0, p.figures.mean_quality or 0), reverse=True
    )
    return candidates[0], (candidates[-1] if len(candidates) > 1 else None)


def build(
    conn: Connection, name: str, points: frozenset[UUID] | None, day: date, tz: str
) -> Digest:
    """The digest of `day` for a user who sees `points` (None: every point)."""
    today = analytics.daily(conn, analytics.Period(day, day, tz, points))
    week = analytics.daily(
        conn, analytics.Period(day - timedelta(days=COMPARE_DAYS), day - timedelta(1), tz, points)
    )
    by_register = analytics.rollup(today.places, lambda r: (r.point_id, r.register_id))
    names = {(r.point_id, r.register_id): (r.point_name, r.register_name) for r in today.places}
    registers = {k: Place(*names[k], f) for k, f in by_register.items()}
    by_seller = analytics.rollup(today.sellers, lambda r: r.seller_id)
    seller_names = {r.seller_id: (r.point_name, r.seller_name) for r in today.sellers}
    sellers = {k: Place(*seller_names[k], f) for k, f in by_seller.items()}
    best, worst = _ranked(registers)
    best_seller, worst_seller = _ranked(sellers)
    period = analytics.Period(day, day, tz, points)
    return Digest(
        day=day,
        name=name,
        figures=analytics.total(today.places),
        before=analytics.total(week.places),
        best=best,
        worst=worst,
        best_seller=best_seller,
        worst_seller=worst_seller,
        examples=examples(conn, period),
        pipeline=pipeline(conn, period),
    )


# One example of each kind: the best accepted upsell, the best-done refused offer, and
# the longest sale without an offer (the chance most worth a word with the seller).
_KINDS = {
    "best": ("a.attempted AND a.accepted", "a.quality_score DESC NULLS LAST"),
    "refused": ("a.attempted AND a.accepted IS NOT TRUE", "a.quality_score DESC NULLS LAST"),
    "missed": ("a.attempted IS FALSE", "(d.end_ms - d.start_ms) DESC"),
}


def examples(conn: Connection, period: analytics.Period) -> list[Example]:
    """The day's example dialogues, at most one of each kind."""
    where, params = period.where()
    parts = [
        f"""(SELECT '{kind}' AS kind, d.dialogue_id, d.started_at, p.name AS point,
                    r.name AS register, a.quality_score, a.summary, a.offers
             FROM dialogues d
             JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id
             JOIN points p ON p.point_id = d.point_id
             JOIN registers r ON r.register_id = d.register_id
             WHERE {where} AND a.is_sales_dialogue IS NOT FALSE AND {condition}
             ORDER BY {order}, d.started_at LIMIT 1)"""
        for kind, (condition, order) in _KINDS.items()
    ]
    rows = conn.execute(sa.text(" UNION ALL ".join(parts)), params).all()
    found = {
        row.kind: Example(
            row.kind,
            row.dialogue_id,
            row.started_at,
            row.point,
            row.register,
            row.quality_score,
            row.summary,
            [
                str(o.get("product"))
                for o in (row.offers if isinstance(row.offers, list) else [])
                if isinstance(o, dict) and o.get("product")
            ],
        )
        for row in rows
    }
    return [found[k] for k in _KINDS if k in found]


def pipeline(conn: Connection, period: analytics.Period) -> Pipeline:
    """Work stuck now, and the day's refused chunks, failed dialogues and receipts of an
    unknown ККТ, at the period's points."""
    where, params = period.where()
    # The chunks and receipts stand in for `d` in the period's conditions.
    chunks = (
        "(SELECT c.chunk_id, c.error, c.status, c.started_at, v.point_id, v.register_id "
        "FROM audio_chunks c JOIN devices v ON v.device_id = c.device_id) d"
    )
    rejected = conn.execute(
        sa.text(
            f"SELECT d.error, count(*) AS n FROM {chunks} WHERE {where} "
            "AND d.status = :rejected GROUP BY d.error ORDER BY n DESC, d.error"
        ),
        {**params, "rejected": ChunkStatus.REJECTED.value},
    ).all()
    failed = conn.execute(
        sa.text(
            "SELECT count(*) FILTER (WHERE d.asr_status = :asr_failed) AS asr, "
            "count(*) FILTER (WHERE d.analysis_status = :analysis_failed) AS analysis "
            f"FROM dialogues d WHERE {where}"
        ),
        {
            **params,
            "asr_failed": AsrStatus.FAILED.value,
            "analysis_failed": AnalysisStatus.FAILED.value,
        },
    ).one()
    receipts = conn.execute(
        sa.text(
            "SELECT count(*) FROM (SELECT printed_at AS started_at, point_id, register_id "
            f"FROM receipts WHERE register_id IS NULL) d WHERE {where}"
        ),
        params,
    ).scalar_one()
    return Pipeline(
        stuck=stuck(conn, period.points),
        rejected_chunks=sum(r.n for r in rejected),
        rejected_reasons=[str(r.error or "?")[:80] for r in rejected[:3]],
        asr_failed=failed.asr,
        analysis_failed=failed.analysis,
        unassigned_receipts=receipts,
    )


def stuck(conn: Connection, points: frozenset[UUID] | None) -> int:
    """Rows stuck now (salescontrol.backlog: owed for longer than STUCK_TIMEOUT_SEC) at
    the points."""
    cutoff = datetime.now(UTC) - timedelta(seconds=settings().stuck_timeout_sec)
    if points is None:
        return backlog.stuck(conn, cutoff, 1)[1]
    within = {
        "audio_chunks": "SELECT c.chunk_id FROM audio_chunks c JOIN devices v "
        "ON v.device_id = c.device_id WHERE v.point_id = ANY(CAST(:points AS uuid[]))",
        "dialogues": "SELECT dialogue_id FROM dialogues "
        "WHERE point_id = ANY(CAST(:points AS uuid[]))",
    }
    union = " UNION ALL ".join(
        f"SELECT q.id FROM ({backlog.stuck_query(s)}) q WHERE q.id IN ({within[s.table]})"
        for s in backlog.TIMED
    )
    return conn.execute(
        sa.text(f"SELECT count(*) FROM ({union}) s"),
        {"cutoff": cutoff, "points": sorted(str(p) for p in points)},
    ).scalar_one()
