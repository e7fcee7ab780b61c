"""The digest as a person reads it, in Russian: an e-mail (subject, plain text, HTML with
inline styles for mail clients) and a Telegram message (its HTML subset, at most 4096
characters). Every value from outside (names, the LLM's summaries and products) is
escaped; links go to the dashboard's dialogue page when DASHBOARD_URL is set.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from digest_content import Digest, Example, Place

TELEGRAM_LIMIT = 4096
SUMMARY_CHARS = 220
MONTHS = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"
WEEKDAYS = "понедельник вторник среда четверг пятница суббота воскресенье"
KINDS = {
    "best": "Лучшая допродажа",
    "refused": "Предложили, но покупатель отказался",
    "missed": "Продажа без предложения",
}
NO_VALUE = "—"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str  # the plain-text part
    html: str  # the HTML part
    telegram: str  # Telegram's HTML subset


def day_name(day: date) -> str:
    """«24 ноября 2026, вторник»"""
    return (
        f"{day.day} {MONTHS.split()[day.month - 1]} {day.year}, {WEEKDAYS.split()[day.weekday()]}"
    )


def integer(value: float) -> str:
    return f"{round(value):,}".replace(",", "\u00a0")


def percent(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.0f}%"


def decimal(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:.1f}".replace(".", ",")


def rubles(kopecks: float) -> str:
    return f"{integer(kopecks / 100)}\u00a0₽"


def points_change(now: float | None, before: float | None) -> str:
    """The change of a rate in percentage points: «+5 п.п.», «−3 п.п.», «без изменений»
    (of the rounded percentages shown beside it, so that 71% against 43% says +28)."""
    if now is None or before is None:
        return ""
    delta = round(now * 100) - round(before * 100)
    if delta == 0:
        return "без изменений"
    return f"{'+' if delta > 0 else '−'}{abs(delta)} п.п."


@dataclass(frozen=True)
class Line:
    """One figure of the day beside the days before it."""

    label: str
    value: str
    before: str
    change: str = ""


def lines(d: Digest, days_before: int) -> list[Line]:
    f, b = d.figures, d.before
    result = [
        Line("Диалогов", integer(f.dialogues), f"{decimal(b.dialogues / days_before)} в день"),
        Line(
            "Доля допродаж",
            percent(f.upsell_rate),
            percent(b.upsell_rate),
            points_change(f.upsell_rate, b.upsell_rate),
        ),
        Line(
            "Доля согласий",
            percent(f.acceptance_rate),
            percent(b.acceptance_rate),
            points_change(f.acceptance_rate, b.acceptance_rate),
        ),
        Line("Средняя оценка", decimal(f.mean_quality), decimal(b.mean_quality)),
    ]
    if f.receipts_matched or b.receipts_matched:
        result.append(
            Line(
                "Выручка допродаж по чекам",
                rubles(f.revenue_confirmed),
                f"{rubles(b.revenue_confirmed / days_before)} в день",
            )
        )
    return result


def place_line(title: str, place: Place | None) -> str | None:
    """«Лучшая касса: Пекарня · Касса 1 — допродажи 60% (3 из 5), оценка 6,1»"""
    if place is None:
        return None
    f = place.figures
    where = " · ".join(x for x in (place.point, place.name) if x) or NO_VALUE
    return (
        f"{title}: {where} — допродажи {percent(f.upsell_rate)} "
        f"({f.upsell_attempted} из {f.sales_dialogues}), оценка {decimal(f.mean_quality)}"
    )


def places(d: Digest) -> list[str]:
    found = [
        place_line("Лучшая касса", d.best),
        place_line("Отстающая касса", d.worst),
        place_line("Лучший продавец", d.best_seller),
        place_line("Отстающий продавец", d.worst_seller),
    ]
    return [line for line in found if line]


def pipeline_lines(d: Digest) -> list[str]:
    p = d.pipeline
    if p.clean:
        return ["Всё обработано: ничего не застряло и не отклонено."]
    found = []
    if p.stuck:
        found.append(f"Застряло в обработке сейчас: {p.stuck} (см. страницу «Обработка»)")
    if p.rejected_chunks:
        reasons = ", ".join(p.rejected_reasons)
        found.append(f"Отклонено записей (чанков): {p.rejected_chunks} — {reasons}")
    if p.asr_failed:
        found.append(f"Не удалось расшифровать диалогов: {p.asr_failed}")
    if p.analysis_failed:
        found.append(f"Не удалось проанализировать диалогов: {p.analysis_failed}")
    if p.unassigned_receipts:
        found.append(f"Чеков неизвестных ККТ: {p.unassigned_receipts}")
    return found


def link(base: str, example: Example) -> str | None:
    return f"{base.rstrip('/')}/dialogue?id={example.dialogue_id}" if base else None


def example_head(e: Example, tz: str) -> str:
    at = e.started_at.astimezone(ZoneInfo(tz)).strftime("%H:%M")
    where = " · ".join(x for x in (e.point, e.register) if x)
    quality = "" if e.quality is None else f", оценка {e.quality}"
    return f"{KINDS[e.kind]} — {at}, {where}{quality}"


def example_text(e: Example) -> str:
    said = (e.summary or "").strip()
    if not said and e.offers:
        said = "Предложено: " + ", ".join(e.offers)
    return said if len(said) <= SUMMARY_CHARS else said[: SUMMARY_CHARS - 1].rstrip() + "…"


def subject(d: Digest) -> str:
    f = d.figures
    return (
        f"SalesControl за {d.day:%d.%m.%Y}: {integer(f.dialogues)} диалогов, "
        f"допродажи {percent(f.upsell_rate)}"
    )


def render(d: Digest, tz: str, dashboard_url: str, days_before: int, user: str) -> Message:
    """The digest as an e-mail and as a Telegram message."""
    return Message(
        subject(d),
        _text(d, tz, dashboard_url, days_before, user),
        _html(d, tz, dashboard_url, days_before, user),
        _telegram(d, tz, dashboard_url, days_before),
    )


def _footer(user: str) -> str:
    return (
        f"Это письмо приходит пользователю {user} каждое утро. Отключить (администратору): "
        f"python -m dashboard users digest {user} --off"
    )


def _text(d: Digest, tz: str, base: str, days_before: int, user: str) -> str:
    out = [f"SalesControl — итоги дня: {day_name(d.day)}", ""]
    for line in lines(d, days_before):
        change = f", {line.change}" if line.change else ""
        out.append(
            f"{line.label}: {line.value} (за {days_before} дней до этого: {line.before}{change})"
        )
    if places(d):
        out += ["", *places(d)]
    if d.examples:
        out += ["", "Примеры диалогов:"]
        for e in d.examples:
            out.append(f"- {example_head(e, tz)}")
            if example_text(e):
                out.append(f"  {example_text(e)}")
            if link(base, e):
                out.append(f"  {link(base, e)}")
    out += ["", "Обработка:", *(f"- {line}" for line in pipeline_lines(d))]
    if base:
        out += ["", f"Дашборд: {base}"]
    out += ["", "--", _footer(user)]
    return "\n".join(out) + "\n"


_E = html.escape
_CELL = "padding:6px 10px;border-bottom:1px solid #eee"


def _html(d: Digest, tz: str, base: str, days_before: int, user: str) -> str:
    rows = "".join(
        f'<tr><td style="{_CELL}">{_E(line.label)}</td>'
        f'<td style="{_CELL};font-size:20px;font-weight:600;text-align:right">'
        f"{_E(line.value)}</td>"
        f'<td style="{_CELL};color:#555">{_E(line.before)}'
        f"{_change_html(line.change)}</td></tr>"
        for line in lines(d, days_before)
    )
    parts = [
        f'<p style="margin:0 0 4px;color:#666">SalesControl — итоги дня</p>'
        f'<h1 style="margin:0 0 16px;font-size:22px">{_E(day_name(d.day))}</h1>',
        '<table style="border-collapse:collapse;width:100%">'
        f'<tr><th></th><th style="{_CELL};text-align:right;color:#666;font-weight:normal">'
        f'за день</th><th style="{_CELL};text-align:left;color:#666;font-weight:normal">'
        f"за {days_before} дней до этого</th></tr>{rows}</table>",
    ]
    if places(d):
        items = "".join(
            f'<li style="margin:4px 0"><b>{_E(label)}:</b> {_E(rest)}</li>'
            for label, _, rest in (p.partition(": ") for p in places(d))
        )
        parts.append(f'<ul style="padding-left:18px;margin:16px 0">{items}</ul>')
    if d.examples:
        items = []
        for e in d.examples:
            href = link(base, e)
            opened = (
                f' <a href="{_E(href)}" style="color:#0b5ed7">Открыть диалог</a>' if href else ""
            )
            said = example_text(e)
            items.append(
                f'<li style="margin:8px 0"><b>{_E(example_head(e, tz))}</b>{opened}'
                + (f'<br><span style="color:#333">«{_E(said)}»</span>' if said else "")
                + "</li>"
            )
        parts.append(
            '<h2 style="font-size:17px;margin:20px 0 6px">Примеры диалогов</h2>'
            f'<ul style="padding-left:18px;margin:0">{"".join(items)}</ul>'
        )
    colour = "#2e7d32" if d.pipeline.clean else "#b26a00"
    items = "".join(f"<li>{_E(line)}</li>" for line in pipeline_lines(d))
    parts.append(
        '<h2 style="font-size:17px;margin:20px 0 6px">Обработка</h2>'
        f'<ul style="padding-left:18px;margin:0;color:{colour}">{items}</ul>'
    )
    if base:
        parts.append(
            f'<p style="margin:24px 0"><a href="{_E(base)}" style="background:#0b5ed7;'
            'color:#fff;padding:10px 16px;border-radius:4px;text-decoration:none">'
            "Открыть дашборд</a></p>"
        )
    parts.append(f'<p style="color:#888;font-size:12px;margin-top:24px">{_E(_footer(user))}</p>')
    body = "".join(parts)
    return (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{_E(subject(d))}</title></head>"
        '<body style="margin:0;background:#f4f5f7;font-family:Arial,Helvetica,sans-serif;'
        'font-size:15px;color:#222"><div style="max-width:640px;box-sizing:border-box;'
        f'margin:0 auto;background:#fff;padding:24px">{body}</div></body></html>'
    )


def _change_html(change: str) -> str:
    if not change or change == "без изменений":
        return f" · {_E(change)}" if change else ""
    colour = "#2e7d32" if change.startswith("+") else "#c62828"
    return f' · <span style="color:{colour}">{_E(change)}</span>'


def _telegram(d: Digest, tz: str, base: str, days_before: int) -> str:
    out = [
        f"<b>SalesControl — {_E(day_name(d.day))}</b>",
        f"<i>в скобках — за {days_before} дней до этого</i>",
        "",
    ]
    for line in lines(d, days_before):
        change = f", {line.change}" if line.change else ""
        out.append(f"{_E(line.label)}: <b>{_E(line.value)}</b> ({_E(line.before)}{_E(change)})")
    out += ["", *(_E(p) for p in places(d))] if places(d) else []
    if d.examples:
        out += ["", "<b>Примеры диалогов</b>"]
        for e in d.examples:
            head = _E(example_head(e, tz))
            href = link(base, e)
            head = f'<a href="{_E(href)}">{head}</a>' if href else head
            said = example_text(e)
            out.append(f"• {head}" + (f": «{_E(said)}»" if said else ""))
    out += ["", "<b>Обработка</b>", *(_E(line) for line in pipeline_lines(d))]
    text = "\n".join(out)
    if len(text) > TELEGRAM_LIMIT:  # long names and summaries: cut, never split a tag
        text = "\n".join(out[: out.index("<b>Обработка</b>") - 1])[: TELEGRAM_LIMIT - 200]
        text = text[: text.rfind("\n")] + "\n…\n\n<b>Обработка</b>\n"
        text += "\n".join(_E(line) for line in pipeline_lines(d))
    return text[:TELEGRAM_LIMIT]
