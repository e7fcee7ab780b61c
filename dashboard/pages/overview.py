"""Обзор: KPIs of a period, the daily trend, the seller ranking and the top products."""

from __future__ import annotations

from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, DataRange1d, LinearAxis, Range1d
from bokeh.plotting import figure

from dashboard import access, queries, safe
from dashboard import strings as S
from dashboard.pages import speakers
from dashboard.pages.common import ScopeFilter, display, integer, layout, number, percent, table
from dashboard.pages.receipts import receipts_overview
from dashboard.users import User


def _kpi_cards(kpis: queries.Kpis) -> safe.Html:
    cards = [
        (S.KPI_DIALOGUES, integer(kpis.dialogues)),
        (S.KPI_ATTEMPT_RATE, percent(kpis.attempt_rate)),
        (S.KPI_ACCEPTANCE_RATE, percent(kpis.acceptance_rate)),
        (S.KPI_QUALITY, number(kpis.mean_quality)),
    ]
    cells = safe.join(
        [
            safe.html(
                '<div class="kpi" style="display:inline-block;min-width:170px;'
                "margin:0 12px 12px 0;padding:12px 16px;border:1px solid #ddd;"
                'border-radius:6px"><div style="color:#666">{label}</div>'
                '<div style="font-size:28px;font-weight:600">{value}</div></div>',
                label=label,
                value=value,
            )
            for label, value in cards
        ]
    )
    return safe.html('<div class="kpis">{cells}</div>', cells=cells)


def _trend_chart(rows: list[dict[str, Any]]) -> figure:
    """Dialogues per day (bars) and the day's attempt rate in % (line, right axis)."""
    days = [r["day"].strftime("%d.%m") for r in rows]
    source = ColumnDataSource(
        {
            "day": days,
            "dialogues": [r["dialogues"] for r in rows],
            "attempt": [
                None if r["attempt_rate"] is None else r["attempt_rate"] * 100 for r in rows
            ],
        }
    )
    fig = figure(x_range=days, height=260, sizing_mode="stretch_width", toolbar_location=None)
    bars = fig.vbar(
        x="day",
        top="dialogues",
        source=source,
        width=0.7,
        alpha=0.5,
        legend_label=S.TREND_DIALOGUES,
    )
    fig.extra_y_ranges = {"rate": Range1d(0, 100)}
    fig.add_layout(LinearAxis(y_range_name="rate"), "right")
    for glyph in (fig.line, fig.scatter):  # markers show a single day too
        glyph(
            x="day",
            y="attempt",
            source=source,
            y_range_name="rate",
            color="#d62728",
            legend_label=S.TREND_ATTEMPT,
        )
    fig.legend.orientation = "horizontal"
    fig.add_layout(fig.legend[0], "above")
    # The left axis follows the bars only (not the rate line of the right axis).
    fig.y_range = DataRange1d(start=0, renderers=[bars])
    return fig


def overview_page(user: User) -> pn.template.BootstrapTemplate:
    """KPIs of a period, the daily trend, the seller ranking and the top products."""
    scope_filter = ScopeFilter(user)
    kpis = pn.pane.HTML(sizing_mode="stretch_width")
    trend = pn.pane.Bokeh(sizing_mode="stretch_width")
    ranking = pn.Column(sizing_mode="stretch_width")
    seller_ranking = pn.Column(sizing_mode="stretch_width")
    products = pn.Column(sizing_mode="stretch_width")

    def refresh(*_: Any) -> None:
        scope = scope_filter.scope()
        with access.transaction(user) as conn:
            summary = queries.summary(conn, scope)
            top = queries.top_products(conn, scope)
            seller_ranking[:] = [speakers.seller_ranking(conn, scope)]
        days, ranked = summary.trend, summary.ranking
        kpis.object = _kpi_cards(summary.kpis)
        trend.object = _trend_chart(days) if days else None
        trend.visible = bool(days)
        columns = ["point_name", "register_name", "dialogues", "analysed", "attempt_rate"]
        columns += ["acceptance_rate", "mean_quality"]
        ranking[:] = [table(display(ranked), columns)] if ranked else [S.NO_DATA]
        products[:] = [table(top, ["product", "offered", "accepted"])] if top else [S.NO_DATA]

    for widget in scope_filter.widgets:
        widget.param.watch(refresh, "value")
    refresh()
    return layout(
        S.NAV_OVERVIEW,
        pn.Row(*scope_filter.widgets),
        kpis,
        f"### {S.TREND}",
        trend,
        f"### {S.RANKING}",
        ranking,
        f"### {S.SELLER_RANKING}",
        seller_ranking,
        f"### {S.TOP_PRODUCTS}",
        products,
        receipts_overview(user, scope_filter),
    )
