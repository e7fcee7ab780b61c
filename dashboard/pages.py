"""The dashboard's pages: each function builds one page for one browser session.

The data comes from `dashboard.queries` (SQL aggregates and pages); this module only lays
it out. Times are shown in DASHBOARD_TIMEZONE.
"""

from __future__ import annotations

import html
import logging
import math
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, LinearAxis, Range1d
from bokeh.plotting import figure

from dashboard import deadletters, queries
from dashboard import strings as S
from salescontrol import db, devices, messages, storage
from salescontrol.config import settings
from salescontrol.errors import SalesControlError

log = logging.getLogger(__name__)

NAV = [("/", S.NAV_OVERVIEW), ("/dialogues", S.NAV_DIALOGUES)]
NAV += [("/devices", S.NAV_DEVICES), ("/pipeline", S.NAV_PIPELINE)]
PAGE_SIZE = 25
DEFAULT_DAYS = 7


# --- shared pieces ---------------------------------------------------------------


def layout(title: str, *body: Any) -> pn.template.BootstrapTemplate:
    """The common frame: navigation on the left, the page on the right."""
    links = "".join(f'<p><a href=".{path}">{html.escape(label)}</a></p>' for path, label in NAV)
    links += f'<hr><p><a href="./logout">{S.LOGOUT}</a></p>'
    template = pn.template.BootstrapTemplate(
        title=S.TITLE, sidebar=[pn.pane.HTML(links)], sidebar_width=200
    )
    template.main.append(pn.Column(f"## {title}", *body, sizing_mode="stretch_width"))
    return template


def _tz() -> ZoneInfo:
    return ZoneInfo(settings().dashboard_timezone)


def _local(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return value.astimezone(_tz()).strftime(fmt) if value else S.NO_VALUE


def _percent(value: float | None) -> str:
    return S.NO_VALUE if value is None else f"{value * 100:.0f}%"


def _number(value: float | None, digits: int = 1) -> str:
    return S.NO_VALUE if value is None else f"{value:.{digits}f}"


def _yes_no(value: bool | None) -> str:
    return S.NO_VALUE if value is None else (S.YES if value else S.NO)


def table(rows: list[dict[str, Any]], columns: list[str], **kwargs: Any) -> pn.widgets.Tabulator:
    """A read-only table of `rows` with Russian column titles (no client-side sort)."""
    frame = pd.DataFrame(rows, columns=columns)
    return pn.widgets.Tabulator(
        frame,
        titles={c: S.COLUMNS.get(c, c) for c in columns},
        show_index=False,
        disabled=True,
        sortable=False,
        layout="fit_data_table",
        sizing_mode="stretch_width",
        **kwargs,
    )


def _display(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with datetimes, rates and booleans as the page shows them."""
    shown = []
    for row in rows:
        out = {}
        for key, value in row.items():
            if isinstance(value, datetime):
                value = _local(value)
            elif key.endswith("_rate"):
                value = None if value is None else round(value * 100)
            elif key == "mean_quality":
                value = None if value is None else round(value, 1)
            elif isinstance(value, bool):
                value = _yes_no(value)
            elif isinstance(value, uuid.UUID):
                value = str(value)
            out[key] = value
        shown.append(out)
    return shown


class ScopeFilter:
    """Period, point and register pickers that produce a `queries.Scope`."""

    def __init__(self) -> None:
        with db.transaction() as conn:
            latest = queries.latest_dialogue_time(conn)
            self.places = queries.places(conn)
        end = (latest or datetime.now(_tz())).astimezone(_tz()).date()
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
            date_from=start,
            date_to=max(start, end),
            tz=settings().dashboard_timezone,
            point_id=uuid.UUID(self.point.value) if self.point.value else None,
            register_id=uuid.UUID(self.register.value) if self.register.value else None,
        )


# --- overview ----------------------------------------------------------------------


def _kpi_cards(kpis: queries.Kpis) -> str:
    cards = [
        (S.KPI_DIALOGUES, str(kpis.dialogues)),
        (S.KPI_ATTEMPT_RATE, _percent(kpis.attempt_rate)),
        (S.KPI_ACCEPTANCE_RATE, _percent(kpis.acceptance_rate)),
        (S.KPI_QUALITY, _number(kpis.mean_quality)),
    ]
    cells = "".join(
        '<div class="kpi" style="display:inline-block;min-width:170px;margin:0 12px 12px 0;'
        'padding:12px 16px;border:1px solid #ddd;border-radius:6px">'
        f'<div style="color:#666">{label}</div>'
        f'<div style="font-size:28px;font-weight:600">{value}</div></div>'
        for label, value in cards
    )
    return f'<div class="kpis">{cells}</div>'


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
    fig.vbar(
        x="day",
        top="dialogues",
        source=source,
        width=0.7,
        alpha=0.5,
        legend_label=S.TREND_DIALOGUES,
    )
    fig.extra_y_ranges = {"rate": Range1d(0, 100)}
    fig.add_layout(LinearAxis(y_range_name="rate"), "right")
    fig.line(
        x="day",
        y="attempt",
        source=source,
        y_range_name="rate",
        color="#d62728",
        line_width=2,
        legend_label=S.TREND_ATTEMPT,
    )
    fig.legend.orientation = "horizontal"
    fig.add_layout(fig.legend[0], "above")
    fig.y_range.start = 0
    return fig


def overview_page() -> pn.template.BootstrapTemplate:
    """KPIs of a period, the daily trend, the seller ranking and the top products."""
    scope_filter = ScopeFilter()
    kpis = pn.pane.HTML(sizing_mode="stretch_width")
    trend = pn.pane.Bokeh(sizing_mode="stretch_width")
    ranking = pn.Column(sizing_mode="stretch_width")
    products = pn.Column(sizing_mode="stretch_width")

    def refresh(*_: Any) -> None:
        scope = scope_filter.scope()
        with db.transaction() as conn:
            k = queries.overview(conn, scope)
            days = queries.daily_trend(conn, scope)
            ranked = queries.ranking(conn, scope)
            top = queries.top_products(conn, scope)
        kpis.object = _kpi_cards(k)
        trend.object = _trend_chart(days) if days else None
        trend.visible = bool(days)
        columns = ["point_name", "register_name", "dialogues", "analysed", "attempt_rate"]
        columns += ["acceptance_rate", "mean_quality"]
        ranking[:] = [table(_display(ranked), columns)] if ranked else [S.NO_DATA]
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
        f"### {S.TOP_PRODUCTS}",
        products,
    )


# --- dialogues ---------------------------------------------------------------------

_TRISTATE = {S.ANY: "", S.YES: "yes", S.NO: "no"}  # "" does display; None does not
_DIALOGUE_COLUMNS = ["started_at", "point_name", "register_name", "duration_sec", "attempted"]
_DIALOGUE_COLUMNS += ["accepted", "quality_score", "asr_status", "analysis_status", "summary"]


def dialogues_page() -> pn.template.BootstrapTemplate:
    """The dialogues table: filters, sort and pages are all done by Postgres."""
    scope_filter = ScopeFilter()
    attempted = pn.widgets.Select(name=S.ATTEMPTED, options=_TRISTATE, width=170)
    accepted = pn.widgets.Select(name=S.ACCEPTED, options=_TRISTATE, width=170)
    quality = pn.widgets.IntRangeSlider(name=S.QUALITY, start=0, end=10, value=(0, 10), width=200)
    search = pn.widgets.TextInput(name=S.SEARCH, placeholder=S.SEARCH_HINT, width=260)
    sort = pn.widgets.Select(name=S.SORT, options={v: k for k, v in S.SORTS.items()}, width=150)
    descending = pn.widgets.Checkbox(name=S.SORT_DESC, value=True)
    apply = pn.widgets.Button(name=S.APPLY, button_type="primary", width=120)
    prev_page = pn.widgets.Button(name=S.PREV, width=100)
    next_page = pn.widgets.Button(name=S.NEXT, width=100)
    status = pn.pane.Markdown()
    body = pn.Column(sizing_mode="stretch_width")
    state = {"page": 1, "pages": 1}

    def load(*_: Any) -> None:
        low, high = quality.value
        f = queries.DialogueFilter(
            scope=scope_filter.scope(),
            attempted={"": None, "yes": True, "no": False}[attempted.value],
            accepted={"": None, "yes": True, "no": False}[accepted.value],
            quality_min=low if low > 0 else None,
            quality_max=high if high < 10 else None,
            text=search.value_input or search.value or "",
            sort=sort.value,
            descending=descending.value,
            page=state["page"],
            page_size=PAGE_SIZE,
        )
        with db.transaction() as conn:
            rows, total = queries.dialogues(conn, f)
        state["pages"] = max(1, math.ceil(total / PAGE_SIZE))
        status.object = S.PAGE.format(page=state["page"], pages=state["pages"], total=total)
        prev_page.disabled = state["page"] <= 1
        next_page.disabled = state["page"] >= state["pages"]
        shown = _display(rows)
        for row in shown:
            row["open"] = f'<a href="./dialogue?id={row["dialogue_id"]}">{S.OPEN}</a>'
        body[:] = [
            table(shown, ["open", *_DIALOGUE_COLUMNS], formatters={"open": {"type": "html"}})
            if rows
            else pn.pane.Markdown(S.NO_DATA)
        ]

    def first_page(*_: Any) -> None:
        state["page"] = 1
        load()

    def move(step: int) -> None:
        state["page"] = min(max(1, state["page"] + step), state["pages"])
        load()

    apply.on_click(first_page)
    search.param.watch(first_page, "value")  # Enter in the search box
    prev_page.on_click(lambda _: move(-1))
    next_page.on_click(lambda _: move(1))
    load()
    return layout(
        S.NAV_DIALOGUES,
        pn.Row(*scope_filter.widgets, attempted, accepted),
        pn.Row(quality, search, sort, descending, apply),
        body,
        pn.Row(prev_page, status, next_page),
    )


# --- one dialogue ------------------------------------------------------------------


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


def _analysis_markdown(d: dict[str, Any]) -> str:
    if not d["analysed"]:
        return S.NO_ANALYSIS.format(status=d["analysis_status"])
    lines = []
    if d["is_sales_dialogue"] is False:
        lines.append(f"*{S.NOT_SALES}*\n")
    lines += [
        f"**{S.ATTEMPTED}:** {_yes_no(d['attempted'])}  ",
        f"**{S.ACCEPTED}:** {_yes_no(d['accepted'])}  ",
        f"**{S.QUALITY}:** {_number(d['quality_score'], 0)} / 10\n",
        f"#### {S.OFFERS}",
    ]
    offers = d["offers"] if isinstance(d["offers"], list) else []
    for offer in offers:
        verdict = S.OFFER_ACCEPTED if offer.get("accepted") else S.OFFER_DECLINED
        quote = offer.get("quote") or ""
        lines.append(f"- **{offer.get('product', S.NO_VALUE)}** ({verdict}): «{quote}»")
    if not offers:
        lines.append(S.NO_OFFERS)
    lines += [
        f"\n**{S.SUMMARY}:** {d['summary'] or S.NO_VALUE}\n",
        f"**{S.RECOMMENDATION}:** {d['recommendation'] or S.NO_VALUE}\n",
        f"<small>{S.ANALYZER}: {d['analyzer']} · {S.MODEL}: {d['model'] or S.NO_VALUE} · "
        f"{S.PROMPT_VERSION}: {d['prompt_version'] or S.NO_VALUE}</small>",
    ]
    return "\n".join(lines)


def _audio_url(object_name: str | None) -> str | None:
    if not object_name:
        return None
    try:
        return storage.signed_get_url(object_name)
    except (SalesControlError, OSError, ValueError) as exc:
        log.warning("signing audio URL for %s failed: %s", object_name, exc)
        return None


def _rerun_buttons(d: dict[str, Any]) -> pn.Column:
    notice = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
    dialogue_id = str(d["dialogue_id"])

    def send(payload: messages.Payload, what: str) -> None:
        try:
            messages.publish(payload)
        except SalesControlError as exc:
            notice.object, notice.alert_type = S.RERUN_FAILED.format(error=exc), "danger"
        else:
            notice.object, notice.alert_type = S.RERUN_SENT.format(what=what), "success"
        notice.visible = True

    analysis = pn.widgets.Button(name=S.RERUN_ANALYSIS, button_type="primary")
    analysis.on_click(
        lambda _: send(messages.TranscriptReady(dialogue_id, force=True), S.RERUN_ANALYSIS)
    )
    asr = pn.widgets.Button(name=S.RERUN_ASR, disabled=not d["audio_object"])
    asr.on_click(
        lambda _: send(
            messages.AsrRequest(dialogue_id, d["audio_object"], tier="accurate", force=True),
            S.RERUN_ASR,
        )
    )
    return pn.Column(pn.Row(analysis, asr), notice)


def dialogue_page(raw: str | None = None) -> pn.template.BootstrapTemplate:
    """One dialogue (?id=): audio, clickable transcript segments, analysis, re-run buttons."""
    if raw is None:
        raw = pn.state.session_args.get("id", [b""])[0].decode()
    back = pn.pane.HTML(f'<a href="./dialogues">{S.BACK}</a>')
    try:
        dialogue_id = uuid.UUID(raw)
    except ValueError:
        return layout(S.DIALOGUE, back, S.NOT_FOUND)
    with db.transaction() as conn:
        d = queries.dialogue(conn, dialogue_id)
    if d is None:
        return layout(S.DIALOGUE, back, S.NOT_FOUND)

    header = (
        f"**{d['point_name'] or S.NO_VALUE} · {d['register_name'] or S.NO_VALUE}** · "
        f"{_local(d['started_at'], '%d.%m.%Y %H:%M:%S')} · {d['duration_sec']:.0f} с · "
        f"{S.COLUMNS['asr_status']}: {d['asr_status']} · "
        f"{S.COLUMNS['analysis_status']}: {d['analysis_status']}"
    )
    url = _audio_url(d["audio_object"])
    audio = pn.pane.Audio(url, name="audio", sizing_mode="stretch_width") if url else None
    segments = [s for s in (d["segments"] or []) if isinstance(s, dict)]
    if d["text"] is None:
        transcript: Any = S.NO_TRANSCRIPT.format(status=d["asr_status"])
    else:
        rows = [
            {
                "start": _clock(float(s.get("start", 0))),
                "end": _clock(float(s.get("end", 0))),
                "text": s.get("text", ""),
            }
            for s in segments
        ] or [{"start": _clock(0), "end": _clock(d["duration_sec"]), "text": d["text"]}]
        transcript = pn.widgets.Tabulator(
            pd.DataFrame(rows),
            titles={"start": S.SEGMENT_START, "end": S.SEGMENT_END, "text": S.SEGMENT_TEXT},
            show_index=False,
            disabled=True,
            sortable=False,
            selectable=False,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            css_classes=["transcript"],
        )
        if audio is not None:

            def play_from(event: Any) -> None:
                start = float(segments[event.row].get("start", 0)) if segments else 0.0
                audio.time = start
                audio.paused = False

            transcript.on_click(play_from)
    return layout(
        S.DIALOGUE,
        back,
        pn.pane.Markdown(header),
        audio if audio is not None else pn.pane.Markdown(S.NO_AUDIO),
        pn.Row(
            pn.Column(
                f"### {S.TRANSCRIPT}",
                pn.pane.Markdown(f"*{S.TRANSCRIPT_HINT}*"),
                transcript,
                sizing_mode="stretch_width",
            ),
            pn.Column(
                f"### {S.ANALYSIS}",
                pn.pane.Markdown(_analysis_markdown(d), css_classes=["analysis"]),
                _rerun_buttons(d),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        ),
    )


# --- devices -----------------------------------------------------------------------


def _health_value(health: dict[str, Any] | None, word: str) -> str:
    """The health report's entries whose key mentions `word` (its format is the recorder's)."""
    if not isinstance(health, dict):
        return S.NO_VALUE
    found = [f"{k}={v}" for k, v in health.items() if word in k.lower()]
    return ", ".join(found) or S.NO_VALUE


def _device_rows(conn: Any) -> list[dict[str, Any]]:
    return [
        {
            "point_name": dev.point_name or str(dev.point_id),
            "register_name": dev.register_name or str(dev.register_id),
            "device_id": str(dev.device_id),
            "is_enabled": _yes_no(dev.is_enabled),
            "last_seen_at": _local(dev.last_seen_at),
            "queue": _health_value(dev.last_health, "queue"),
            "disk": _health_value(dev.last_health, "disk"),
            "last_health_at": _local(dev.last_health_at),
        }
        for dev in devices.list_devices(conn)
    ]


def _uuid_or_new(value: str) -> uuid.UUID:
    value = value.strip()
    if not value:
        return uuid.uuid4()
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError(S.BAD_UUID.format(value=value)) from None


def devices_page() -> pn.template.BootstrapTemplate:
    """Devices with their health; register one (token shown once); enable or disable."""
    listing = pn.Column(sizing_mode="stretch_width")
    notice = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
    choose = pn.widgets.Select(name=S.SELECT_DEVICE, width=420)
    enable = pn.widgets.Button(name=S.ENABLE, button_type="success")
    disable = pn.widgets.Button(name=S.DISABLE, button_type="danger")
    device_id = pn.widgets.TextInput(name=S.DEVICE_ID, width=320)
    point_id = pn.widgets.TextInput(name=S.POINT_ID, width=320)
    point_name = pn.widgets.TextInput(name=S.POINT_NAME, width=320)
    register_id = pn.widgets.TextInput(name=S.REGISTER_ID, width=320)
    register_name = pn.widgets.TextInput(name=S.REGISTER_NAME, width=320)
    register = pn.widgets.Button(name=S.REGISTER_BUTTON, button_type="primary")

    def show(message: str, kind: str) -> None:
        notice.object, notice.alert_type, notice.visible = message, kind, True

    def refresh() -> None:
        with db.transaction() as conn:
            rows = _device_rows(conn)
        columns = ["point_name", "register_name", "device_id", "is_enabled", "last_seen_at"]
        listing[:] = [table(rows, [*columns, "queue", "disk", "last_health_at"])]
        choose.options = {
            f"{r['point_name']} · {r['register_name']} · {r['device_id']}": r["device_id"]
            for r in rows
        }
        if rows and choose.value not in choose.options.values():
            choose.value = rows[0]["device_id"]

    def on_register(_: Any) -> None:
        try:
            ids = [_uuid_or_new(w.value) for w in (device_id, point_id, register_id)]
            with db.transaction() as conn:
                dev, token = devices.register(
                    conn,
                    *ids,
                    point_name=point_name.value.strip() or None,
                    register_name=register_name.value.strip() or None,
                )
        except (SalesControlError, ValueError) as exc:
            show(S.ERROR.format(error=html.escape(str(exc))), "danger")
            return
        show(f"{S.TOKEN_ONCE.format(device_id=dev.device_id)}<br><code>{token}</code>", "success")
        for widget in (device_id, point_id, point_name, register_id, register_name):
            widget.value = ""
        refresh()

    def on_toggle(enabled: bool) -> None:
        if not choose.value:
            return
        try:
            with db.transaction() as conn:
                dev = devices.set_enabled(conn, uuid.UUID(choose.value), enabled)
        except SalesControlError as exc:
            show(S.ERROR.format(error=html.escape(str(exc))), "danger")
            return
        state = S.ENABLED if dev.is_enabled else S.DISABLED
        show(S.DEVICE_SAVED.format(device_id=dev.device_id, state=state), "info")
        refresh()

    register.on_click(on_register)
    enable.on_click(lambda _: on_toggle(True))
    disable.on_click(lambda _: on_toggle(False))
    refresh()
    return layout(
        S.DEVICES,
        notice,
        listing,
        pn.Row(choose, enable, disable),
        f"### {S.NEW_DEVICE}",
        pn.Row(device_id, point_id, register_id),
        pn.Row(point_name, register_name, register),
    )


# --- pipeline ----------------------------------------------------------------------


def pipeline_page() -> pn.template.BootstrapTemplate:
    """Counts by status, stuck work, rejected chunks and dead letters."""
    timeout = settings().stuck_timeout_sec
    with db.transaction() as conn:
        p = queries.pipeline(conn, timeout)
    dead = [
        {
            "subscription": d.subscription,
            "source": d.source,
            "count": S.UNAVAILABLE if d.count is None else d.count,
        }
        for d in deadletters.counts()
    ]

    def maybe(rows: list[dict[str, Any]], columns: list[str]) -> Any:
        return table(_display(rows), columns) if rows else pn.pane.Markdown(S.NOTHING)

    return layout(
        S.NAV_PIPELINE,
        f"### {S.CHUNKS}",
        maybe(p.chunks, ["status", "count", "last_created"]),
        f"### {S.DIALOGUE_STATUSES}",
        maybe(p.dialogues, ["asr_status", "analysis_status", "count"]),
        f"### {S.STUCK.format(minutes=timeout // 60, total=p.stuck_total)}",
        maybe(p.stuck, ["kind", "id", "status", "updated_at"]),
        f"### {S.REJECTED}",
        maybe(p.rejected, ["started_at", "error", "device_id", "chunk_id"]),
        f"### {S.DEAD_LETTERS}",
        maybe(dead, ["subscription", "source", "count"]),
        pn.pane.Markdown(f"*{S.DEAD_LETTERS_NOTE}*"),
    )


PAGES = {
    "/": overview_page,
    "/dialogues": dialogues_page,
    "/dialogue": dialogue_page,
    "/devices": devices_page,
    "/pipeline": pipeline_page,
}
