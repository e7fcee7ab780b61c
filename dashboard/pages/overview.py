"""Обзор: KPIs of a period, the daily trend, the register ranking, the top products and
the receipt figures, all from one `analytics.daily` scan plus the products' one."""

from __future__ import annotations

from typing import Any

import panel as pn

from dashboard import access, export, queries, safe
from dashboard import strings as S
from dashboard.pages import tables
from dashboard.pages.chart import trend_svg
from dashboard.pages.common import ScopeFilter, heading, integer, layout, number, percent, shown
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


def overview_page(user: User) -> pn.template.BootstrapTemplate:
    """KPIs of a period, the daily trend, the register ranking, the top products and the
    receipt figures; each table with its downloads."""
    scope_filter = ScopeFilter(user)
    # One pane for all of it, not one per heading and table: fewer models to build, send
    # and lay out.
    body = safe.pane(safe.Html(), sizing_mode="stretch_width")

    def refresh(*_: Any) -> None:
        scope = scope_filter.scope()
        with access.transaction(user) as conn:
            o = tables.overview(conn, scope)
        params = export.scope_params(scope)
        t = o.tables

        def section(title: str, name: str) -> safe.Html:
            return safe.join([heading(title, export.link(name, params)), shown(t[name])])

        body.object = safe.join(
            [
                _kpi_cards(o.kpis),
                heading(S.TREND, export.link("daily", params)),
                trend_svg(o.trend) if o.trend else safe.Html(),
                shown(t["daily"]),
                section(S.RANKING, "ranking"),
                section(S.SELLER_RANKING, "sellers"),
                section(S.TOP_PRODUCTS, "products"),
                receipts_overview(o.money),
                section(S.RECEIPTS_BY_PLACE, "receipts"),
                section(S.RECEIPTS_BY_SELLER, "cashiers"),
            ]
        )

    for widget in scope_filter.widgets:
        widget.param.watch(refresh, "value")
    refresh()
    return layout(S.NAV_OVERVIEW, pn.Row(*scope_filter.widgets), body)
