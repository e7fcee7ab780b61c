"""Обработка: counts by status, stuck work, rejected chunks and dead letters."""

from __future__ import annotations

from typing import Any

import panel as pn

from dashboard import deadletters, queries
from dashboard import strings as S
from dashboard.pages import speakers
from dashboard.pages.common import display, layout, table
from salescontrol import db
from salescontrol.config import settings


def pipeline_page() -> pn.template.BootstrapTemplate:
    """Counts by status, stuck work, rejected chunks and dead letters."""
    timeout = settings().stuck_timeout_sec
    with db.transaction() as conn:
        p = queries.pipeline(conn, timeout)
        background = speakers.background_section(conn)
    dead = [
        {
            "subscription": d.subscription,
            "source": d.source,
            "count": S.UNAVAILABLE if d.count is None else d.count,
        }
        for d in deadletters.counts()
    ]

    def maybe(rows: list[dict[str, Any]], columns: list[str]) -> Any:
        return table(display(rows), columns) if rows else pn.pane.Markdown(S.NOTHING)

    return layout(
        S.NAV_PIPELINE,
        f"### {S.CHUNKS}",
        maybe(p.chunks, ["status", "count", "last_created"]),
        f"### {S.DIALOGUE_STATUSES}",
        maybe(p.dialogues, ["asr_status", "analysis_status", "count"]),
        f"### {S.STUCK.format(minutes=timeout // 60, total=p.stuck_total)}",
        maybe(p.stuck, ["stage", "id", "status", "updated_at"]),
        f"### {S.REJECTED}",
        maybe(p.rejected, ["started_at", "error", "device_id", "chunk_id"]),
        *background,
        f"### {S.DEAD_LETTERS}",
        maybe(dead, ["subscription", "source", "count"]),
        pn.pane.Markdown(f"*{S.DEAD_LETTERS_NOTE}*"),
    )
