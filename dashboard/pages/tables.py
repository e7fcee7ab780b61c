"""The dashboard's table views as data: the rows a page shows are the rows its CSV and
Excel downloads hold (dashboard.export), built by the same functions from the same
queries, so a download always has the page's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from dashboard import queries
from dashboard import receipts as receipt_data
from dashboard import strings as S
from dashboard.pages.common import display
from salescontrol import analytics

# The receipt money columns, in whole rubles as the page shows them.
MONEY = ("check_with_upsell", "check_without_upsell", "upsell_revenue")
RECEIPT_COLUMNS = ["receipts_matched", *MONEY, "upsells_confirmed", "contradictions"]
FIGURE_COLUMNS = ["dialogues", "analysed", "attempt_rate", "acceptance_rate", "mean_quality"]
DIALOGUE_COLUMNS = ["started_at", "point_name", "register_name", "duration_sec", "attempted"]
DIALOGUE_COLUMNS += ["accepted", "quality_score", "needs_review", "summary"]
SELLER_COLUMNS = ["seller", "point_name", *FIGURE_COLUMNS]


@dataclass(frozen=True)
class Table:
    """One table view: its download name, Russian title, columns and shown rows."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]  # as shown: rates in %, rubles, local times, Да/Нет
    note: str = ""  # said under the table in a download (say, rows left out)


@dataclass(frozen=True)
class Overview:
    kpis: queries.Kpis
    trend: list[dict[str, Any]]  # per day, raw (the chart)
    money: receipt_data.Figures  # the receipt cards
    tables: dict[str, Table]  # daily, ranking, sellers, products, receipts, cashiers


def in_rubles(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The receipt money columns of `rows`, kopecks to whole rubles."""
    return [{**r, **{k: None if r[k] is None else round(r[k] / 100) for k in MONEY}} for r in rows]


def overview(conn: Connection, scope: queries.Scope) -> Overview:
    """Everything the overview shows for `scope`: one `analytics.daily` scan and the
    products' query."""
    daily = analytics.daily(conn, scope.period)
    summary = queries.summary(conn, scope, daily)
    money = receipt_data.figures(conn, scope, daily)
    top = queries.top_products(conn, scope)
    places = ["point_name", "register_name"]
    tables = [
        Table("daily", S.TREND, ["day", *FIGURE_COLUMNS], display(summary.trend)),
        Table("ranking", S.RANKING, [*places, *FIGURE_COLUMNS], display(summary.ranking)),
        Table("sellers", S.SELLER_RANKING, SELLER_COLUMNS, display(summary.sellers)),
        Table("products", S.TOP_PRODUCTS, ["product", "offered", "accepted"], top),
        Table(
            "receipts",
            S.RECEIPTS_BY_PLACE,
            [*places, *RECEIPT_COLUMNS],
            display(in_rubles(money.places)),
        ),
        Table(
            "cashiers",
            S.RECEIPTS_BY_SELLER,
            ["operator", *RECEIPT_COLUMNS],
            display(in_rubles(money.sellers)),
        ),
    ]
    return Overview(summary.kpis, summary.trend, money, {t.name: t for t in tables})


def dialogues(conn: Connection, f: queries.DialogueFilter, limit: int) -> Table:
    """Every dialogue the filter matches (the first `limit`), in the page's order and
    columns, with its id."""
    rows, total = queries.dialogue_rows(conn, f, limit)
    note = S.EXPORT_CUT.format(shown=len(rows), total=total) if total > len(rows) else ""
    return Table(
        "dialogues", S.NAV_DIALOGUES, [*DIALOGUE_COLUMNS, "dialogue_id"], display(rows), note
    )
