"""Диалоги: the table whose filters, sort and pages are all done by Postgres."""

from __future__ import annotations

import math
from typing import Any

import panel as pn

from dashboard import access, export, queries, safe
from dashboard import strings as S
from dashboard.pages.common import ScopeFilter, display, layout, table
from dashboard.pages.tables import DIALOGUE_COLUMNS
from dashboard.users import User

PAGE_SIZE = 25


_TRISTATE = {S.ANY: "", S.YES: "yes", S.NO: "no"}  # "" does display; None does not
# Pixel widths that fit a 1400 px window; the summary wraps inside its column.
_WIDTHS = {"started_at": 185, "point_name": 175, "register_name": 90, "duration_sec": 100}
_WIDTHS |= {"attempted": 140, "accepted": 115, "quality_score": 95, "summary": 240}
_WIDTHS |= {"needs_review": 110}


def dialogues_page(user: User) -> pn.template.BootstrapTemplate:
    """The dialogues table: filters, sort and pages are all done by Postgres."""
    scope_filter = ScopeFilter(user)
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
    downloads = pn.pane.HTML()
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
        with access.transaction(user) as conn:
            rows, total = queries.dialogues(conn, f)
        downloads.object = export.link("dialogues", export.dialogue_params(f))
        state["pages"] = max(1, math.ceil(total / PAGE_SIZE))
        status.object = S.PAGE.format(page=state["page"], pages=state["pages"], total=total)
        prev_page.disabled = state["page"] <= 1
        next_page.disabled = state["page"] >= state["pages"]
        shown = display(rows)
        for row in shown:
            # The start time opens the dialogue.
            row["started_at"] = safe.html(
                '<a href="./dialogue?id={id}" title="{open}">{at}</a>',
                id=row["dialogue_id"],
                open=S.OPEN,
                at=row["started_at"],
            )
        body[:] = [
            table(shown, DIALOGUE_COLUMNS, widths=_WIDTHS) if rows else pn.pane.Markdown(S.NO_DATA)
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
        downloads,
        body,
        pn.Row(prev_page, status, next_page),
    )
