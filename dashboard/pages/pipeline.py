"""Обработка: counts by status, stuck work (attempts, last error), work given up after
MAX_ATTEMPTS, rejected chunks and dead letters."""

from __future__ import annotations

from typing import Any

import panel as pn

from dashboard import access, deadletters, queries
from dashboard import strings as S
from dashboard.pages import speakers
from dashboard.pages.common import display, layout, table
from dashboard.pages.receipts import unassigned_receipts
from dashboard.users import User
from salescontrol.config import settings


def pipeline_page(user: User) -> pn.template.BootstrapTemplate:
    """Counts by status, stuck work and rejected chunks of the points within reach; the
    dead letters (every point's messages) for the owner only."""
    timeout = settings().stuck_timeout_sec
    with access.transaction(user) as conn:
        p = queries.pipeline(conn, timeout, user.reach, max_attempts=settings().max_attempts)
        background = speakers.background_section(conn, user.reach)

    def maybe(rows: list[dict[str, Any]], columns: list[str]) -> Any:
        return table(display(rows), columns) if rows else pn.pane.Markdown(S.NOTHING)

    return layout(
        S.NAV_PIPELINE,
        f"### {S.CHUNKS}",
        maybe(p.chunks, ["status", "count", "last_created"]),
        f"### {S.DIALOGUE_STATUSES}",
        maybe(p.dialogues, ["asr_status", "analysis_status", "count"]),
        f"### {S.STUCK.format(minutes=timeout // 60, total=p.stuck_total)}",
        maybe(p.stuck, ["stage", "id", "status", "attempts", "error", "updated_at"]),
        f"### {S.GIVEN_UP.format(attempts=settings().max_attempts)}",
        maybe(p.given_up, ["stage", "id", "attempts", "error", "updated_at"]),
        f"### {S.REJECTED}",
        maybe(p.rejected, ["started_at", "error", "device_id", "chunk_id"]),
        *background,
        *(_dead_letters() if user.is_owner else []),
        *unassigned_receipts(user),
    )


def _dead_letters() -> list[Any]:
    dead = [
        {
            "subscription": d.subscription,
            "source": d.source,
            "count": S.UNAVAILABLE if d.count is None else d.count,
        }
        for d in deadletters.counts()
    ]
    return [
        f"### {S.DEAD_LETTERS}",
        table(dead, ["subscription", "source", "count"]) if dead else S.NOTHING,
        pn.pane.Markdown(f"*{S.DEAD_LETTERS_NOTE}*"),
    ]
