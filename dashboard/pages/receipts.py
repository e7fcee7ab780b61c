"""The receipt pieces of the pages (issue 21): a dialogue's receipt and upsell check, the
overview's receipt figures, the pipeline's unassigned receipts. Every value is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

import panel as pn

from dashboard import access, safe
from dashboard import receipts as data
from dashboard import strings as S
from dashboard.pages.common import display, integer, local_time, table_html
from dashboard.users import User

_RIGHT = ' style="text-align:right;padding:2px 8px"'


def rubles(kopecks: float | None) -> str:
    """Kopecks as Russian money: 1 502,50 ₽."""
    if kopecks is None:
        return S.NO_VALUE
    return f"{kopecks / 100:,.2f}".replace(",", "\u00a0").replace(".", ",") + "\u00a0₽"


def _quantity(value: Any) -> str:
    """1.0 as 1, 0.25 as 0,25 (kilograms)."""
    if isinstance(value, int | float) and float(value).is_integer():
        return str(int(value))
    return str(value).replace(".", ",")


def _check_line(check: dict[str, Any]) -> str:
    template = S.CHECK_STATUSES.get(str(check.get("status")), str(check.get("status")))
    said = template.format(name=check.get("name") or "", amount=rubles(check.get("amount")))
    return f"<li><b>{escape(str(check.get('product') or S.NO_VALUE))}</b>: {escape(said)}</li>"


def receipt_panel(r: dict[str, Any]) -> pn.pane.HTML:
    """The dialogue's receipt, its upsold lines highlighted, and the upsell check."""
    checks = [c for c in r.get("receipt_check") or [] if isinstance(c, dict)]
    parts = []
    if r.get("receipt_id") is None:
        parts.append(f"<p>{escape(S.NO_RECEIPT)}</p>")
    else:
        upsold = {c.get("line") for c in checks if c.get("status") == "confirmed"}
        when = local_time(r["printed_at"], "%d.%m.%Y %H:%M:%S")
        header = S.RECEIPT_HEADER.format(
            number=r["fiscal_document_number"], time=when, kkt=r["kkt_reg_id"]
        )
        rows = []
        for i, item in enumerate(r["items"] if isinstance(r["items"], list) else []):
            mark = f" <b>({escape(S.RECEIPT_UPSOLD)})</b>" if i in upsold else ""
            style = ' class="upsold" style="background:#dff3dc"' if i in upsold else ""
            rows.append(
                f"<tr{style}><td>{escape(str(item.get('name', '')))}{mark}</td>"
                f"<td{_RIGHT}>{escape(_quantity(item.get('quantity')))}</td>"
                f"<td{_RIGHT}>{rubles(item.get('sum'))}</td></tr>"
            )
        rows.append(
            f"<tr><td colspan=2><b>{escape(S.RECEIPT_TOTAL)}</b></td>"
            f"<td{_RIGHT}><b>{rubles(r['total_sum'])}</b></td></tr>"
        )
        parts += [f"<p><b>{escape(header)}</b></p>", f"<table>{''.join(rows)}</table>"]
        if r.get("operator"):
            parts.append(f"<p>{escape(S.RECEIPT_CASHIER.format(operator=r['operator']))}</p>")
    if checks:
        lines = "".join(_check_line(c) for c in checks)
        parts.append(f"<p><b>{escape(S.RECEIPT_CHECK)}</b></p><ul>{lines}</ul>")
    if r.get("receipt_contradiction"):
        warning = escape(S.RECEIPT_CONTRADICTION)
        parts.append(f'<p class="contradiction" style="color:#b00020">{warning}</p>')
    return pn.pane.HTML("".join(parts), css_classes=["receipt"], sizing_mode="stretch_width")


def dialogue_receipt(user: User, dialogue_id: Any) -> list[Any]:
    """The dialogue view's receipt section (the page checked the dialogue is in reach)."""
    with access.transaction(user) as conn:
        r = data.of_dialogue(conn, dialogue_id)
    return [f"### {S.RECEIPT}", receipt_panel(r)]


def _cards(cards: list[tuple[str, str]]) -> str:
    cells = "".join(
        '<div class="kpi" style="display:inline-block;min-width:170px;margin:0 12px 12px 0;'
        'padding:12px 16px;border:1px solid #ddd;border-radius:6px">'
        f'<div style="color:#666">{escape(label)}</div>'
        f'<div style="font-size:24px;font-weight:600">{escape(value)}</div></div>'
        for label, value in cards
    )
    return f'<div class="receipt-kpis">{cells}</div>'


def receipts_overview(f: data.Figures) -> safe.Html:
    """The overview's receipt cards (of the page's period and place); its tables per
    place and per cashier are `tables.Table`s the overview shows with their downloads."""
    t = f.total
    cards = [
        (S.KPI_RECEIPTS_MATCHED, f"{integer(t['receipts_matched'])} / {integer(t['receipts'])}"),
        (S.KPI_CHECK_WITH, rubles(t["check_with_upsell"])),
        (S.KPI_CHECK_WITHOUT, rubles(t["check_without_upsell"])),
        (S.KPI_UPSELL_REVENUE, rubles(t["upsell_revenue"])),
    ]
    # _cards escapes every value itself (rubles and integers are ours).
    return safe.html("<h3>{title}</h3>{cards}", title=S.RECEIPTS, cards=safe.Html(_cards(cards)))


def unassigned_receipts(user: User) -> safe.Html:
    """The pipeline page's receipts of unknown ККТ, of the user's points."""
    with access.transaction(user) as conn:
        rows, total = data.unassigned(conn, user.reach)
    shown = [{**r, "total_sum": r["total_sum"] / 100} for r in rows]
    columns = ["printed_at", "point_name", "kkt_reg_id", "fiscal_document_number", "total_sum"]
    listed = (
        table_html(display(shown), [*columns, "created_at"])
        if rows
        else safe.html("<p>{n}</p>", n=S.NOTHING)
    )
    return safe.html(
        "<h3>{title}</h3>{listed}<p><em>{note}</em></p>",
        title=S.UNASSIGNED.format(total=total),
        listed=listed,
        note=S.UNASSIGNED_NOTE,
    )
