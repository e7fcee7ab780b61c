"""Pieces every page shares: the frame, tables, formatting, the period/place filter."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import panel as pn

from dashboard import access, queries, safe
from dashboard import strings as S
from dashboard.users import User
from salescontrol.config import settings

NAV = [("/", S.NAV_OVERVIEW), ("/dialogues", S.NAV_DIALOGUES)]
NAV += [("/devices", S.NAV_DEVICES), ("/pipeline", S.NAV_PIPELINE)]
DEFAULT_DAYS = 7


def layout(title: str, *body: Any) -> pn.template.BootstrapTemplate:
    """The common frame: navigation on the left, the page on the right (`title` is ours)."""
    links = safe.join(
        [safe.html('<p><a href=".{path}">{label}</a></p>', path=p, label=t) for p, t in NAV]
    )
    template = pn.template.BootstrapTemplate(
        title=S.TITLE, sidebar=[safe.pane(links)], sidebar_width=200
    )
    template.main.append(pn.Column(f"## {title}", *body, sizing_mode="stretch_width"))
    return template


def tz() -> ZoneInfo:
    return ZoneInfo(settings().dashboard_timezone)


def local_time(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return value.astimezone(tz()).strftime(fmt) if value else S.NO_VALUE


def integer(value: int) -> str:
    """An integer with Russian digit grouping (21 191)."""
    return f"{value:,}".replace(",", "\u00a0")


def percent(value: float | None) -> str:
    return S.NO_VALUE if value is None else f"{value * 100:.0f}%"


def number(value: float | None, digits: int = 1) -> str:
    return S.NO_VALUE if value is None else f"{value:.{digits}f}".replace(".", ",")


def yes_no(value: bool | None) -> str:
    return S.NO_VALUE if value is None else (S.YES if value else S.NO)


def status(value: str | None) -> str:
    """A pipeline status (the seed's code) in Russian."""
    return S.NO_VALUE if value is None else S.STATUSES.get(value, value)


def _cell(value: Any) -> Any:
    if value is None:
        return S.NO_VALUE
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return integer(value) if isinstance(value, int) else number(value)


# One stylesheet for every table of the pages (they are plain HTML: see `table`).
_TABLE_STYLE = (
    "<style>table.sc{border-collapse:collapse;width:100%;font-size:14px}"
    "table.sc th,table.sc td{border-bottom:1px solid #e5e5e5;padding:4px 8px;"
    "vertical-align:top;text-align:left}"
    "table.sc th{background:#f7f7f7;font-weight:600;white-space:nowrap}"
    "table.sc .n{text-align:right;white-space:nowrap}</style>"
)


def table(
    rows: list[dict[str, Any]], columns: list[str], widths: dict[str, int] | None = None
) -> pn.pane.HTML:
    """A read-only table of `rows` with Russian column titles (`table_html`), as a pane."""
    return safe.pane(table_html(rows, columns, widths), sizing_mode="stretch_width")


def table_html(
    rows: list[dict[str, Any]], columns: list[str], widths: dict[str, int] | None = None
) -> safe.Html:
    """A read-only table of `rows` with Russian column titles, as plain HTML.

    Numbers are shown the Russian way (1 502, 4,5) and right-aligned; missing ones as a
    dash. Every cell is escaped unless it is `safe.Html` (a link made with `safe.html`),
    so a value from audio, the LLM or a device never becomes markup. Plain HTML rather
    than a Tabulator widget: the pages' tables are small and read-only, and Tabulator's
    models and client-side layout were the biggest part of the overview's and pipeline's
    time in the browser (README, Dashboard: Speed).
    """
    widths = widths or {}
    numeric = {
        c
        for c in columns
        for r in rows
        if isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool)
    }
    head = safe.join(
        [
            safe.html(
                '<th class="{kind}" style="{style}">{title}</th>',
                kind="n" if c in numeric else "",
                style=f"min-width:{widths[c]}px" if c in widths else "",
                title=S.COLUMNS.get(c, c),
            )
            for c in columns
        ]
    )
    body = safe.join(
        [
            safe.html(
                "<tr>{cells}</tr>",
                cells=safe.join(
                    [
                        safe.html(
                            '<td class="{kind}">{value}</td>',
                            kind="n" if c in numeric else "",
                            value=_cell(r.get(c)),
                        )
                        for c in columns
                    ]
                ),
            )
            for r in rows
        ]
    )
    return safe.html(
        '{style}<table class="sc"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
        style=safe.Html(_TABLE_STYLE),
        head=head,
        body=body,
    )


def heading(title: str, links: safe.Html) -> safe.Html:
    """A section's title, with its table's download links beside it."""
    return safe.html(
        '<h3 class="section">{title} <small style="font-weight:normal;font-size:13px">'
        "{links}</small></h3>",
        title=title,
        links=links,
    )


def shown(t: Any) -> safe.Html:
    """A table view (`tables.Table`) as the page shows it: its rows, or "no data"."""
    return table_html(t.rows, t.columns) if t.rows else safe.html("<p>{no}</p>", no=S.NO_DATA)


def display(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with datetimes, rates and booleans as the page shows them."""
    shown = []
    for row in rows:
        out = {}
        for key, value in row.items():
            if isinstance(value, datetime):
                value = local_time(value)
            elif isinstance(value, date):
                value = value.strftime("%d.%m.%Y")
            elif key.endswith("_rate"):
                value = None if value is None else round(value * 100)
            elif key == "mean_quality":
                value = None if value is None else round(value, 1)
            elif isinstance(value, bool):
                value = yes_no(value)
            elif key == "status" or key.endswith("_status"):
                value = status(value)
            elif key == "stage":
                value = S.STAGES.get(value, value)
            elif isinstance(value, uuid.UUID):
                value = str(value)
            out[key] = value
        shown.append(out)
    return shown


class ScopeFilter:
    """Period, point and register pickers that produce a `queries.Scope` within the
    user's reach (the pickers offer only the points the user may see)."""

    def __init__(self, user: User) -> None:
        self.user = user
        with access.transaction(user) as conn:
            latest = queries.latest_dialogue_time(conn, user.reach)
            self.places = queries.places(conn, user.reach)
        end = (latest or datetime.now(tz())).astimezone(tz()).date()
        start = end - timedelta(days=DEFAULT_DAYS - 1)
        self.date_from = pn.widgets.DatePicker(name=S.DATE_FROM, value=start, width=140)
        self.date_to = pn.widgets.DatePicker(name=S.DATE_TO, value=end, width=140)
        # Select values are strings: "" stands for "all" (None does not display).
        points = {p["point_name"] or str(p["point_id"]): str(p["point_id"]) for p in self.places}
        self.point = pn.widgets.Select(name=S.POINT, options={S.ALL: "", **points}, width=200)
        self.register = pn.widgets.Select(name=S.REGISTER, width=220)
        self.point.param.watch(self._registers, "value")
        self._registers()

    def _registers(self, *_: Any) -> None:
        options = {S.ALL: ""}
        for p in self.places:
            if self.point.value in ("", str(p["point_id"])):
                label = p["register_name"] or str(p["register_id"])
                if not self.point.value:
                    label = f"{p['point_name'] or p['point_id']} · {label}"
                options[label] = str(p["register_id"])
        self.register.options = options
        self.register.value = ""

    @property
    def widgets(self) -> list[pn.widgets.Widget]:
        return [self.date_from, self.date_to, self.point, self.register]

    def scope(self) -> queries.Scope:
        start = self.date_from.value or date.today()
        end = self.date_to.value or start
        return queries.Scope(
            reach=self.user.reach,
            date_from=start,
            date_to=max(start, end),
            tz=settings().dashboard_timezone,
            point_id=uuid.UUID(self.point.value) if self.point.value else None,
            register_id=uuid.UUID(self.register.value) if self.register.value else None,
        )
