"""Downloads: every table view as CSV or Excel, with the page's filters and numbers.

`GET /export/<table>.<csv|xlsx>?from=&to=&point=&register=` (and, for `dialogues`,
`attempted`, `accepted`, `qmin`, `qmax`, `q`, `sort`, `desc`): the pages put these links
beside each table, carrying their current filters (`link`). The rows come from
`dashboard.tables`, the functions the pages show, read within the logged-in user's
reach (`access.transaction`), so a download has the page's numbers and nothing more.

CSV is what Russian Excel opens with a double click: UTF-8 with a BOM, `;` between
fields, decimal commas. The .xlsx keeps numbers as numbers (dates and times as the page
writes them) on a sheet «Данные», and the filters, the user and the time on «Фильтры».
"""

from __future__ import annotations

import csv
import io
import logging
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import tornado.web
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from tornado.ioloop import IOLoop

from dashboard import access, login, queries, safe
from dashboard import strings as S
from dashboard.pages import tables
from dashboard.pages.common import local_time, tz
from dashboard.users import User
from salescontrol.config import settings

log = logging.getLogger(__name__)

EXPORT_URL = "/export"
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
OVERVIEW = ("daily", "ranking", "sellers", "products", "receipts", "cashiers")
TABLES = (*OVERVIEW, "dialogues")
_TRISTATE = {"": None, "yes": True, "no": False}
# Building a big workbook takes seconds of CPU: off the event loop, two at a time.
_BUILDING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="export")


class BadParameter(ValueError):
    """A download link's parameter that is not one the pages make."""


@dataclass(frozen=True)
class Request:
    """What to download: a table, a format, and the page's filters."""

    table: str
    fmt: str
    scope: queries.Scope
    dialogue_filter: queries.DialogueFilter | None  # for `dialogues`


def scope_params(scope: queries.Scope) -> dict[str, str]:
    """The query parameters of a page's period and place filter."""
    return {
        "from": scope.date_from.isoformat(),
        "to": scope.date_to.isoformat(),
        "point": str(scope.point_id or ""),
        "register": str(scope.register_id or ""),
    }


def dialogue_params(f: queries.DialogueFilter) -> dict[str, str]:
    """The query parameters of the dialogues page's filters and sort (not its page)."""

    def tri(value: bool | None) -> str:
        return "" if value is None else "yes" if value else "no"

    return {
        **scope_params(f.scope),
        "attempted": tri(f.attempted),
        "accepted": tri(f.accepted),
        "qmin": "" if f.quality_min is None else str(f.quality_min),
        "qmax": "" if f.quality_max is None else str(f.quality_max),
        "q": f.text,
        "sort": f.sort,
        "desc": "1" if f.descending else "0",
    }


def link(table: str, params: dict[str, str]) -> safe.Html:
    """The CSV and Excel links of one table, for a page (relative: it works behind any
    prefix a proxy adds)."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v != ""})
    parts = [
        safe.html(
            '<a class="export export-{fmt}" href=".{url}/{table}.{fmt}?{query}" download '
            'title="{hint}">{label}</a>',
            url=EXPORT_URL,
            table=table,
            fmt=fmt,
            query=query,
            hint=S.EXPORT_HINT,
            label=label,
        )
        for fmt, label in (("csv", S.EXPORT_CSV), ("xlsx", S.EXPORT_XLSX))
    ]
    return safe.html('<span class="exports">⤓ {links}</span>', links=safe.join(parts, " · "))


def parse(path_name: str, args: dict[str, list[bytes]], user: User) -> Request:
    """The download a request asks for, within `user`'s reach; BadParameter otherwise."""
    table, _, fmt = path_name.partition(".")
    if table not in TABLES or fmt not in FORMATS:
        raise BadParameter(f"no download {path_name!r}")
    values = {}
    for key, raw in args.items():
        if len(raw) != 1:
            raise BadParameter(f"{key}: given more than once")
        values[key] = raw[0].decode("utf-8", "replace").replace("\x00", "")
    known = {"from", "to", "point", "register"}
    if table == "dialogues":
        known |= {"attempted", "accepted", "qmin", "qmax", "q", "sort", "desc"}
    unknown = set(values) - known
    if unknown:
        raise BadParameter(f"{sorted(unknown)[0]}: not a filter of this table")
    try:
        date_from = date.fromisoformat(values["from"])
        date_to = date.fromisoformat(values.get("to") or values["from"])
    except (KeyError, ValueError):
        raise BadParameter("from/to: YYYY-MM-DD") from None
    if date_to < date_from or (date_to - date_from).days >= 366:
        raise BadParameter("from/to: a period of at most 366 days")
    scope = queries.Scope(
        user.reach,
        date_from,
        date_to,
        settings().dashboard_timezone,
        _uuid(values, "point"),
        _uuid(values, "register"),
    )
    if table != "dialogues":
        return Request(table, fmt, scope, None)
    f = queries.DialogueFilter(
        scope=scope,
        attempted=_tristate(values, "attempted"),
        accepted=_tristate(values, "accepted"),
        quality_min=_quality(values, "qmin"),
        quality_max=_quality(values, "qmax"),
        text=values.get("q", "")[:200],
        sort=values.get("sort", "started_at"),
        descending=values.get("desc", "1") != "0",
    )
    if f.sort not in queries.SORTS:
        raise BadParameter("sort: one of " + ", ".join(queries.SORTS))
    return Request(table, fmt, scope, f)


def _uuid(values: dict[str, str], key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(values[key]) if values.get(key) else None
    except ValueError:
        raise BadParameter(f"{key}: not an id") from None


def _tristate(values: dict[str, str], key: str) -> bool | None:
    if values.get(key, "") not in _TRISTATE:
        raise BadParameter(f"{key}: yes or no")
    return _TRISTATE[values.get(key, "")]


def _quality(values: dict[str, str], key: str) -> int | None:
    if not values.get(key):
        return None
    if not values[key].isdigit() or int(values[key]) > 10:
        raise BadParameter(f"{key}: 0 to 10")
    return int(values[key])


def table_of(request: Request, user: User) -> tables.Table:
    """The rows of the requested table, read within the user's reach."""
    with access.transaction(user) as conn:
        if request.dialogue_filter is not None:
            limit = settings().dashboard_export_max_rows
            return tables.dialogues(conn, request.dialogue_filter, limit)
        return tables.overview(conn, request.scope).tables[request.table]


def filters(request: Request, user: User, places: dict[str, str]) -> list[tuple[str, str]]:
    """The filters of a download, in Russian, for the workbook's «Фильтры» sheet."""
    scope = request.scope
    rows = [
        (S.EXPORT_PERIOD, f"{scope.date_from:%d.%m.%Y} — {scope.date_to:%d.%m.%Y}"),
        (S.POINT, places.get(str(scope.point_id), S.ALL) if scope.point_id else S.ALL),
        (S.REGISTER, places.get(str(scope.register_id), S.ALL) if scope.register_id else S.ALL),
    ]
    f = request.dialogue_filter
    if f is not None:
        tri = {None: S.ANY, True: S.YES, False: S.NO}
        low = 0 if f.quality_min is None else f.quality_min
        high = 10 if f.quality_max is None else f.quality_max
        rows += [
            (S.ATTEMPTED, tri[f.attempted]),
            (S.ACCEPTED, tri[f.accepted]),
            (S.QUALITY, f"{low}–{high}"),
            (S.SEARCH, f.text or S.NO_VALUE),
            (S.SORT, S.SORTS[f.sort] + (f", {S.SORT_DESC.lower()}" if f.descending else "")),
        ]
    rows += [
        (S.EXPORT_USER, user.name),
        (S.EXPORT_MADE, local_time(datetime.now(tz()), "%d.%m.%Y %H:%M:%S")),
    ]
    return rows


def as_csv(table: tables.Table) -> bytes:
    """The table as Russian Excel reads CSV: BOM, `;`, decimal commas."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([S.COLUMNS.get(c, c) for c in table.columns])
    for row in table.rows:
        writer.writerow([_text(row.get(c)) for c in table.columns])
    if table.note:
        writer.writerow([table.note])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def as_xlsx(table: tables.Table, filter_rows: list[tuple[str, str]]) -> bytes:
    """The table on «Данные» (numbers as numbers) and its filters on «Фильтры»."""
    book = Workbook(write_only=True)
    data = book.create_sheet(S.EXPORT_DATA)
    bold = Font(bold=True)
    data.append([_bold(data, S.COLUMNS.get(c, c), bold) for c in table.columns])
    for row in table.rows:
        data.append([row.get(c) for c in table.columns])
    if table.note:
        data.append([table.note])
    sheet = book.create_sheet(S.EXPORT_FILTERS)
    sheet.append([_bold(sheet, S.EXPORT_FILTER, bold), _bold(sheet, S.EXPORT_VALUE, bold)])
    sheet.append([S.EXPORT_DATA, table.title])
    for name, value in filter_rows:
        sheet.append([name, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _bold(sheet: Any, value: str, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell


def file_name(table: tables.Table, request: Request) -> str:
    """«Диалоги 2026-11-19 — 2026-11-25.xlsx»"""
    scope = request.scope
    return f"{table.title} {scope.date_from} — {scope.date_to}.{request.fmt}"


def build(request: Request, user: User) -> tuple[bytes, str]:
    """The file's bytes and name."""
    table = table_of(request, user)
    if request.fmt == "csv":
        return as_csv(table), file_name(table, request)
    with access.transaction(user) as conn:
        places = {
            str(key): name
            for p in queries.places(conn, user.reach)
            for key, name in (
                (p["point_id"], p["point_name"]),
                (p["register_id"], f"{p['point_name']} · {p['register_name']}"),
            )
        }
    return as_xlsx(table, filters(request, user, places)), file_name(table, request)


def patterns() -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    """The download handler, for the dashboard server."""
    return [(EXPORT_URL + r"/([a-z]+\.[a-z]+)", ExportHandler)]


class ExportHandler(tornado.web.RequestHandler):
    """`GET /export/<table>.<fmt>`: a download for the logged-in user (else the login)."""

    async def get(self, path_name: str) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        session = login.current_session(self)
        if session is None:
            next_url = EXPORT_URL + "/" + path_name + "?" + self.request.query
            self.redirect("." + login.LOGIN_URL + "?" + urllib.parse.urlencode({"next": next_url}))
            return
        user = session.user  # carries the session: every read checks it still holds
        try:
            request = parse(path_name, self.request.arguments, user)
        except BadParameter as exc:
            self.set_status(400)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(S.EXPORT_BAD.format(error=exc))
            return
        try:
            body, name = await IOLoop.current().run_in_executor(_BUILDING, build, request, user)
        except access.SessionEnded:
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(S.SESSION_ENDED)
            return
        log.info("export %s for user %r: %d bytes", path_name, user.name, len(body))
        ascii_name = (
            f"salescontrol-{request.table}-{request.scope.date_from}-{request.scope.date_to}"
        )
        self.set_header("Content-Type", FORMATS[request.fmt])
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="{ascii_name}.{request.fmt}"; '
            f"filename*=UTF-8''{urllib.parse.quote(name)}",
        )
        self.finish(body)
