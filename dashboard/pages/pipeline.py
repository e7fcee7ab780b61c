"""Обработка: counts by status, stuck work (attempts, last error), work given up after
MAX_ATTEMPTS, rejected chunks, background speech dropped before ASR and dead letters."""

from __future__ import annotations

from typing import Any

import panel as pn

from dashboard import access, deadletters, queries, safe
from dashboard import speakers as seller_data
from dashboard import strings as S
from dashboard.pages import speakers
from dashboard.pages.common import display, layout, table_html
from dashboard.pages.receipts import unassigned_receipts
from dashboard.users import User
from salescontrol.config import settings


def pipeline_page(user: User) -> pn.template.BootstrapTemplate:
    """Counts by status, stuck work and rejected chunks of the points within reach; the
    dead letters (every point's messages) for the owner only."""
    timeout = settings().stuck_timeout_sec
    with access.transaction(user) as conn:
        p = queries.pipeline(conn, timeout, user.reach, max_attempts=settings().max_attempts)
        background = seller_data.background(conn, user.reach)

    def section(title: str, rows: list[dict[str, Any]], columns: list[str]) -> safe.Html:
        shown = table_html(display(rows), columns) if rows else safe.html("<p>{n}</p>", n=S.NOTHING)
        return safe.join([safe.html("<h3>{title}</h3>", title=title), shown])

    # One pane for the page's tables, not one per heading and table (fewer models).
    parts = [
        section(S.CHUNKS, p.chunks, ["status", "count", "last_created"]),
        section(S.DIALOGUE_STATUSES, p.dialogues, ["asr_status", "analysis_status", "count"]),
        section(
            S.STUCK.format(minutes=timeout // 60, total=p.stuck_total),
            p.stuck,
            ["stage", "id", "status", "attempts", "error", "updated_at"],
        ),
        section(
            S.GIVEN_UP.format(attempts=settings().max_attempts),
            p.given_up,
            ["stage", "id", "attempts", "error", "updated_at"],
        ),
        section(S.REJECTED, p.rejected, ["started_at", "error", "device_id", "chunk_id"]),
        section(S.BACKGROUND, background, speakers.BACKGROUND_COLUMNS),
        *([_dead_letters()] if user.is_owner else []),
        unassigned_receipts(user),
    ]
    return layout(S.NAV_PIPELINE, safe.pane(safe.join(parts), sizing_mode="stretch_width"))


def _dead_letters() -> safe.Html:
    dead = [
        {
            "subscription": d.subscription,
            "source": d.source,
            "count": S.UNAVAILABLE if d.count is None else d.count,
        }
        for d in deadletters.counts()
    ]
    shown = (
        table_html(dead, ["subscription", "source", "count"])
        if dead
        else safe.html("<p>{n}</p>", n=S.NOTHING)
    )
    return safe.html(
        "<h3>{title}</h3>{shown}<p><em>{note}</em></p>",
        title=S.DEAD_LETTERS,
        shown=shown,
        note=S.DEAD_LETTERS_NOTE,
    )
