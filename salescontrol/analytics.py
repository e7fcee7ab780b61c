"""Daily figures: per local day and place, the counts every report of the owner adds up.

One definition of the numbers: the analytics API (functions/ingest), the dashboard's
overview and its exports, and the daily digest (functions/digest) all read `daily()`
and add its rows up (`total`, `rollup`). The rows hold counts and sums only, so any
grouping of them is exact; rates and means are derived from the sums, never averaged.

Rates are taken over analysed sales dialogues (`is_sales_dialogue` not false): a seller
cannot be blamed for not upselling to someone who only asked the way.

Sellers: `daily()` also groups by the seller the roles stage matched (`dialogues.seller_id`),
as the owner sees them: a seller merged into another counts as that one, and a voice not
yet numbered (heard too seldom to be a seller) as none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

MAX_DAYS = 366  # the longest period one call may ask for


@dataclass(frozen=True)
class Period:
    """Local days `date_from`..`date_to` (inclusive) in `tz`, within `points` (None:
    every point), optionally one point or register."""

    date_from: date
    date_to: date
    tz: str = "UTC"
    points: frozenset[UUID] | None = None
    point_id: UUID | None = None
    register_id: UUID | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        """SQL conditions on `d` (dialogues) and their parameters."""
        sql = [
            "d.started_at >= (CAST(:date_from AS timestamp) AT TIME ZONE :tz)",
            "d.started_at < ((CAST(:date_to AS timestamp) + interval '1 day') AT TIME ZONE :tz)",
        ]
        params: dict[str, Any] = {
            "date_from": self.date_from,
            "date_to": self.date_to,
            "tz": self.tz,
        }
        if self.points is not None:
            sql.append("d.point_id = ANY(CAST(:reach AS uuid[]))")
            params["reach"] = sorted(str(p) for p in self.points)
        if self.point_id:
            sql.append("d.point_id = :point_id")
            params["point_id"] = self.point_id
        if self.register_id:
            sql.append("d.register_id = :register_id")
            params["register_id"] = self.register_id
        return " AND ".join(sql), params


@dataclass(frozen=True)
class Figures:
    """Counts and sums of a set of dialogues (money in kopecks); add them with `+`."""

    dialogues: int = 0
    sales_dialogues: int = 0  # analysed, and not marked as non-sales
    upsell_attempted: int = 0
    upsell_accepted: int = 0
    quality_sum: int = 0
    quality_scored: int = 0
    receipts_matched: int = 0  # dialogues with their receipt
    check_with_upsell_sum: int = 0  # receipt totals of dialogues with an upsell attempt
    check_with_upsell_count: int = 0
    check_without_upsell_sum: int = 0
    check_without_upsell_count: int = 0
    revenue_confirmed: int = 0  # what confirmed upsells brought (receipt lines)
    upsells_confirmed: int = 0  # dialogues with an upsell found on their receipt
    contradictions: int = 0  # an offer called accepted that is not on the receipt

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    @property
    def upsell_rate(self) -> float | None:
        return _ratio(self.upsell_attempted, self.sales_dialogues)

    @property
    def acceptance_rate(self) -> float | None:
        return _ratio(self.upsell_accepted, self.upsell_attempted)

    @property
    def mean_quality(self) -> float | None:
        return _ratio(self.quality_sum, self.quality_scored)

    @property
    def check_with_upsell(self) -> float | None:
        """The average receipt total of dialogues with an upsell attempt."""
        return _ratio(self.check_with_upsell_sum, self.check_with_upsell_count)

    @property
    def check_without_upsell(self) -> float | None:
        return _ratio(self.check_without_upsell_sum, self.check_without_upsell_count)

    def public(self) -> dict[str, Any]:
        """What the API and the exports show: the counts people read, and the rates."""
        return {
            "dialogues": self.dialogues,
            "sales_dialogues": self.sales_dialogues,
            "upsell_attempted": self.upsell_attempted,
            "upsell_accepted": self.upsell_accepted,
            "upsell_rate": _round(self.upsell_rate, 4),
            "acceptance_rate": _round(self.acceptance_rate, 4),
            "mean_quality": _round(self.mean_quality, 2),
            "receipts_matched": self.receipts_matched,
            "revenue_confirmed": self.revenue_confirmed,
            "upsells_confirmed": self.upsells_confirmed,
        }


def _values(figures: Figures) -> tuple[int, ...]:
    return tuple(getattr(figures, f.name) for f in _FIGURE_FIELDS)


_FIGURE_FIELDS = dataclasses.fields(Figures)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Row:
    """The figures of one local day at one place: a register, a cashier (the receipts'
    `operator`) of a point, or a seller of a point."""

    day: date
    point_id: UUID
    point_name: str | None
    figures: Figures
    register_id: UUID | None = None
    register_name: str | None = None
    operator: str | None = None
    seller_id: UUID | None = None
    seller_name: str | None = None  # the owner's name for them, else "Продавец <number>"


@dataclass(frozen=True)
class Daily:
    places: list[Row]  # per day, point and register: every dialogue once
    cashiers: list[Row]  # per day, point and receipt operator (dialogues with a receipt)
    sellers: list[Row]  # per day, point and seller (dialogues a seller was matched to)


_COUNTS = """
    count(*) AS dialogues,
    count(*) FILTER (WHERE a.dialogue_id IS NOT NULL AND a.is_sales_dialogue IS NOT FALSE)
        AS sales_dialogues,
    count(*) FILTER (WHERE a.attempted AND a.is_sales_dialogue IS NOT FALSE) AS upsell_attempted,
    count(*) FILTER (WHERE a.attempted AND a.accepted AND a.is_sales_dialogue IS NOT FALSE)
        AS upsell_accepted,
    coalesce(sum(a.quality_score) FILTER (WHERE a.is_sales_dialogue IS NOT FALSE), 0)
        AS quality_sum,
    count(a.quality_score) FILTER (WHERE a.is_sales_dialogue IS NOT FALSE) AS quality_scored,
    count(r.receipt_id) AS receipts_matched,
    coalesce(sum(r.total_sum) FILTER (WHERE a.attempted), 0) AS check_with_upsell_sum,
    count(r.total_sum) FILTER (WHERE a.attempted) AS check_with_upsell_count,
    coalesce(sum(r.total_sum) FILTER (WHERE a.attempted IS FALSE), 0)
        AS check_without_upsell_sum,
    count(r.total_sum) FILTER (WHERE a.attempted IS FALSE) AS check_without_upsell_count,
    coalesce(sum(u.amount), 0) AS revenue_confirmed,
    count(u.amount) AS upsells_confirmed,
    count(*) FILTER (WHERE a.receipt_contradiction) AS contradictions
"""
# What the offers the receipt check confirmed brought, looked into only for dialogues
# with a receipt (CASE is lazy; a lateral join was evaluated for every dialogue).
_CONFIRMED = """
    SELECT sum(CAST(c ->> 'amount' AS bigint)) FROM jsonb_array_elements(a.receipt_check) c
    WHERE c ->> 'status' = 'confirmed'
"""
_HAS_CHECK = "r.receipt_id IS NOT NULL AND jsonb_typeof(a.receipt_check) = 'array'"

# A seller until the owner names them (sql/030_speakers.sql); the dashboard says the same.
SELLER_DEFAULT = "Продавец {number}"
# The seller a dialogue counts for: the one its seller was merged into, if numbered.
_SELLER_JOINS = """
    LEFT JOIN sellers s0 ON s0.seller_id = d.seller_id
    LEFT JOIN sellers t0 ON t0.seller_id = coalesce(s0.merged_into, s0.seller_id)
        AND t0.number IS NOT NULL
"""


def for_reports(conn: Connection) -> None:
    """Plan the rest of this transaction's queries without parallel workers or JIT.

    Measured on the 100 000-dialogue benchmark data: a month's figures took twice the
    CPU with two parallel workers (348 vs 171 ms over every Postgres process), and JIT
    compiled for 170 ms to save less. On a small shared database CPU is what runs out.
    """
    conn.execute(
        sa.text(
            "SELECT set_config('max_parallel_workers_per_gather', '0', true), "
            "set_config('jit', 'off', true)"
        )
    )


def daily(conn: Connection, period: Period) -> Daily:
    """The figures of `period` per local day and register, cashier and seller, from one
    scan of the period's dialogues."""
    for_reports(conn)
    where, params = period.where()
    sql = f"""
        WITH g AS (
            SELECT d.day, d.point_id, d.register_id, r.operator, d.seller_id,
                   GROUPING(d.register_id) AS no_register, GROUPING(r.operator) AS no_operator,
                   {_COUNTS}
            FROM (
                SELECT d.dialogue_id, d.point_id, d.register_id, t0.seller_id,
                       CAST(d.started_at AT TIME ZONE :tz AS date) AS day
                FROM dialogues d {_SELLER_JOINS} WHERE {where}
            ) AS d
            LEFT JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id
            LEFT JOIN receipts r ON r.dialogue_id = d.dialogue_id
            CROSS JOIN LATERAL (
                SELECT CASE WHEN {_HAS_CHECK} THEN ({_CONFIRMED}) END AS amount
            ) AS u
            GROUP BY GROUPING SETS (
                (d.day, d.point_id, d.register_id), (d.day, d.point_id, r.operator),
                (d.day, d.point_id, d.seller_id)
            )
        )
        SELECT g.*, p.name AS point_name, rg.name AS register_name,
               s.name AS seller_name, s.number AS seller_number
        FROM g
        LEFT JOIN points p ON p.point_id = g.point_id
        LEFT JOIN registers rg ON rg.register_id = g.register_id
        LEFT JOIN sellers s ON s.seller_id = g.seller_id
        ORDER BY g.day, p.name NULLS LAST, rg.name NULLS LAST, g.operator NULLS LAST
    """
    result = Daily([], [], [])
    for raw in conn.execute(sa.text(sql), params):
        m = raw._mapping
        figures = Figures(*(int(m[f.name]) for f in _FIGURE_FIELDS))
        common = {"day": m["day"], "point_id": m["point_id"], "point_name": m["point_name"]}
        if not m["no_register"]:
            result.places.append(
                Row(
                    **common,
                    figures=figures,
                    register_id=m["register_id"],
                    register_name=m["register_name"],
                )
            )
        elif not m["no_operator"]:
            if m["operator"] is not None:  # dialogues without a receipt have no cashier
                result.cashiers.append(Row(**common, figures=figures, operator=m["operator"]))
        elif m["seller_id"] is not None:  # dialogues no seller was matched to have none
            name = m["seller_name"] or SELLER_DEFAULT.format(number=m["seller_number"])
            result.sellers.append(
                Row(**common, figures=figures, seller_id=m["seller_id"], seller_name=name)
            )
    return result


K = TypeVar("K", bound=Hashable)


def rollup(rows: Iterable[Row], key: Callable[[Row], K]) -> dict[K, Figures]:
    """The rows' figures added up per `key(row)`, in the order keys first appear."""
    sums: dict[K, Figures] = {}
    for row in rows:
        k = key(row)
        sums[k] = sums.get(k, Figures()) + row.figures
    return sums


def total(rows: Iterable[Row]) -> Figures:
    """All the rows' figures added up."""
    return sum((row.figures for row in rows), Figures())
