"""The dashboard's receipt data (issue 21): a dialogue's receipt and check, the figures of
a scope, unassigned receipts. SQL aggregates, as in `dashboard.queries`; sums in kopecks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard.queries import Reach, Scope


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def of_dialogue(conn: Connection, dialogue_id: UUID) -> dict[str, Any]:
    """The dialogue's receipt (its columns None when it has none) and receipt check."""
    row = conn.execute(
        sa.text(
            "SELECT r.receipt_id, r.fiscal_document_number, r.kkt_reg_id, r.printed_at, "
            "r.total_sum, r.items, r.operator, a.receipt_check, a.receipt_contradiction "
            "FROM dialogues d LEFT JOIN receipts r ON r.dialogue_id = d.dialogue_id "
            "LEFT JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id "
            "WHERE d.dialogue_id = :d"
        ),
        {"d": dialogue_id},
    ).first()
    return dict(row._mapping) if row else {}


# Per dialogue: its receipt (r), analysis (a) and the confirmed upsells' amounts (u).
_FIGURES = """
    count(*) AS dialogues,
    count(r.receipt_id) AS receipts_matched,
    CAST(avg(r.total_sum) FILTER (WHERE a.attempted) AS float) AS check_with_upsell,
    CAST(avg(r.total_sum) FILTER (WHERE a.attempted IS FALSE) AS float) AS check_without_upsell,
    CAST(coalesce(sum(u.amount), 0) AS bigint) AS upsell_revenue,
    count(*) FILTER (WHERE u.confirmed > 0) AS upsells_confirmed,
    count(*) FILTER (WHERE a.receipt_contradiction) AS contradictions
"""
_CONFIRMED = """
    LEFT JOIN LATERAL (
        SELECT sum(CAST(c ->> 'amount' AS bigint)) AS amount, count(*) AS confirmed
        FROM jsonb_array_elements(CASE jsonb_typeof(a.receipt_check)
                                  WHEN 'array' THEN a.receipt_check ELSE '[]'::jsonb END) c
        WHERE c ->> 'status' = 'confirmed'
    ) u ON true
"""


@dataclass(frozen=True)
class Figures:
    total: dict[str, Any]  # the _FIGURES of the scope, plus receipts and unmatched
    places: list[dict[str, Any]]  # per point and register
    sellers: list[dict[str, Any]]  # per cashier on the receipts (operator)


def figures(conn: Connection, scope: Scope) -> Figures:
    """Receipts matched, average check with and without an upsell attempt, revenue from
    confirmed upsells: in all, per point and register, per cashier."""
    where, params = scope.where()
    rows = _rows(
        conn,
        f"""
        WITH g AS (
            SELECT d.point_id, d.register_id, r.operator, GROUPING(d.point_id) AS no_place,
                   GROUPING(r.operator) AS no_seller, {_FIGURES}
            FROM dialogues d
            LEFT JOIN receipts r ON r.dialogue_id = d.dialogue_id
            LEFT JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id
            {_CONFIRMED}
            WHERE {where}
            GROUP BY GROUPING SETS ((), (d.point_id, d.register_id), (r.operator))
        )
        SELECT g.*, p.name AS point_name, rg.name AS register_name FROM g
        LEFT JOIN points p ON p.point_id = g.point_id
        LEFT JOIN registers rg ON rg.register_id = g.register_id
        ORDER BY g.upsell_revenue DESC, p.name, rg.name, g.operator
        """,
        params,
    )
    # Receipts printed in the scope at a known register, whether a dialogue took them:
    # the scope's conditions read `d`, so the receipts stand in for it.
    printed = conn.execute(
        sa.text(
            "SELECT count(*) AS receipts, count(*) FILTER (WHERE d.dialogue_id IS NULL) "
            "AS unmatched FROM (SELECT printed_at AS started_at, point_id, register_id, "
            f"dialogue_id FROM receipts WHERE register_id IS NOT NULL) d WHERE {where}"
        ),
        params,
    ).one()
    total = next(r for r in rows if r["no_place"] and r["no_seller"])
    return Figures(
        total={**total, **printed._mapping},
        places=[r for r in rows if not r["no_place"]],
        sellers=[r for r in rows if not r["no_seller"] and r["operator"]],
    )


def unassigned(conn: Connection, reach: Reach, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
    """Receipts of a ККТ no register of their point has (newest first), and how many,
    of the points within `reach`."""
    params: dict[str, Any] = {"n": limit}
    mine = reach.where("r.point_id", params)
    rows = _rows(
        conn,
        "SELECT r.printed_at, p.name AS point_name, r.kkt_reg_id, r.fiscal_document_number, "
        "r.total_sum, r.created_at FROM receipts r JOIN points p ON p.point_id = r.point_id "
        f"WHERE r.register_id IS NULL AND {mine} "
        "ORDER BY r.created_at DESC, r.receipt_id DESC LIMIT :n",
        params,
    )
    count = conn.execute(
        sa.text(f"SELECT count(*) FROM receipts r WHERE r.register_id IS NULL AND {mine}"),
        params,
    ).scalar_one()
    return rows, count
