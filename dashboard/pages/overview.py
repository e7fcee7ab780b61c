"""Обзор: KPIs of a period, the daily trend, the register ranking, the top products and
the receipt figures, all from one `analytics.daily` scan plus the products' one."""

from __future__ import annotations

from typing import Any

import panel as pn

from dashboard import access, queries, safe
from dashboard import receipts as receipt_data
from dashboard import strings as S
from dashboard.pages.chart import trend_svg
from dashboard.pages.common import ScopeFilter, display, integer, layout, number, percent, table
from dashboard.pages.receipts import receipts_overview
from dashboard.users import User
from salescontrol import analytics


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


def overview_page(user: User) -> pn.template.BootstrapTemplate:
    """KPIs of a period, the daily trend, the seller ranking and the top products."""
    scope_filter = ScopeFilter(user)
    kpis = pn.pane.HTML(sizing_mode="stretch_width")
    trend = pn.pane.HTML(sizing_mode="stretch_width")
    ranking = pn.Column(sizing_mode="stretch_width")
    products = pn.Column(sizing_mode="stretch_width")
    receipts = pn.Column(sizing_mode="stretch_width")

    def refresh(*_: Any) -> None:
        scope = scope_filter.scope()
        with access.transaction(user) as conn:
            daily = analytics.daily(conn, scope.period)  # one scan for every figure
            summary = queries.summary(conn, scope, daily)
            money = receipt_data.figures(conn, scope, daily)
            top = queries.top_products(conn, scope)
        days, ranked = summary.trend, summary.ranking
        kpis.object = _kpi_cards(summary.kpis)
        trend.object = trend_svg(days) if days else safe.Html()
        trend.visible = bool(days)
        columns = ["point_name", "register_name", "dialogues", "analysed", "attempt_rate"]
        columns += ["acceptance_rate", "mean_quality"]
        ranking[:] = [table(display(ranked), columns)] if ranked else [S.NO_DATA]
        products[:] = [table(top, ["product", "offered", "accepted"])] if top else [S.NO_DATA]
        receipts[:] = receipts_overview(money)

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
        f"### {S.TOP_PRODUCTS}",
        products,
        receipts,
    )
