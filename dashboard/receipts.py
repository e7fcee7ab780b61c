"""The dashboard's receipt data (issue 21): a dialogue's receipt and check, the figures of
a scope, unassigned receipts. SQL aggregates, as in `dashboard.queries`; sums in kopecks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard.queries import Reach, Scope
from salescontrol import analytics


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


@dataclass(frozen=True)
class Figures:
    total: dict[str, Any]  # the figures of the scope, plus receipts and unmatched
    places: list[dict[str, Any]]  # per point and register
    sellers: list[dict[str, Any]]  # per cashier on the receipts (operator)


def _money(figures: analytics.Figures) -> dict[str, Any]:
    """A scope's receipt figures under the names the page's tables use."""
    return {
        "dialogues": figures.dialogues,
        "receipts_matched": figures.receipts_matched,
        "check_with_upsell": figures.check_with_upsell,
        "check_without_upsell": figures.check_without_upsell,
        "upsell_revenue": figures.revenue_confirmed,
        "upsells_confirmed": figures.upsells_confirmed,
        "contradictions": figures.contradictions,
    }


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (-row["upsell_revenue"], row.get("point_name") or "", row.get("register_name") or "")


def figures(conn: Connection, scope: Scope, daily: analytics.Daily | None = None) -> Figures:
    """Receipts matched, average check with and without an upsell attempt, revenue from
    confirmed upsells: in all, per point and register, per cashier (`analytics.daily`
    added up; pass `daily` when the page has it already)."""
    if daily is None:
        daily = analytics.daily(conn, scope.period)
    where, params = scope.where()
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
    names = {(r.point_id, r.register_id): (r.point_name, r.register_name) for r in daily.places}
    places = [
        {"point_name": names[k][0], "register_name": names[k][1], **_money(f)}
        for k, f in analytics.rollup(daily.places, lambda r: (r.point_id, r.register_id)).items()
    ]
    sellers = [
        {"operator": operator, **_money(f)}
        for operator, f in analytics.rollup(daily.cashiers, lambda r: r.operator).items()
    ]
    places.sort(key=_order)
    sellers.sort(key=lambda r: (-r["upsell_revenue"], r["operator"]))
    total = {**_money(analytics.total(daily.places)), **printed._mapping}
    return Figures(total=total, places=places, sellers=sellers)


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
