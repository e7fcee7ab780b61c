"""The page parts of issue 20: the sellers' rename and merge (devices), the background
speech table's columns (pipeline) and the transcript's roles in colour (dialogue). The
seller ranking is one of the overview's tables (dashboard.pages.tables). Values shown in
alerts are escaped here; table cells by `table_html`, the transcript's by Tabulator's
plaintext formatter."""

from __future__ import annotations

import html
import uuid
from typing import Any

import pandas as pd
import panel as pn

from dashboard import access, speakers
from dashboard import strings as S
from dashboard.pages.common import display, table
from dashboard.users import User
from salescontrol.errors import SalesControlError

# The pipeline page's background-speech table (dashboard.speakers.background).
BACKGROUND_COLUMNS = ["point_name", "register_name", "count", "seconds", "last_created"]


def sellers_section(user: User) -> pn.Column:
    """The devices page's sellers within the user's reach: the list, and for a user who
    may act, rename one or merge one into another."""
    listing = pn.Column(sizing_mode="stretch_width")
    notice = pn.pane.Alert(visible=False, sizing_mode="stretch_width")
    choose = pn.widgets.Select(name=S.SELECT_SELLER, width=320)
    new_name = pn.widgets.TextInput(name=S.SELLER_NEW_NAME, width=240)
    rename = pn.widgets.Button(name=S.RENAME, button_type="primary")
    into = pn.widgets.Select(name=S.MERGE_INTO, width=320)
    merge = pn.widgets.Button(name=S.MERGE, button_type="warning")

    def refresh() -> None:
        with access.transaction(user) as conn:
            rows = speakers.sellers(conn, user.reach)
        listing[:] = [
            table(display(rows), ["seller", "point_name", "dialogues"]) if rows else S.NO_SELLERS
        ]
        options = {f"{r['seller']} · {r['point_name']}": str(r["seller_id"]) for r in rows}
        choose.options, into.options = options, options

    def act(work: Any, message: str) -> None:
        try:
            with access.transaction(user, act=True) as conn:
                work(conn)
        except (SalesControlError, ValueError) as exc:
            notice.object, notice.alert_type = S.ERROR.format(error=html.escape(str(exc))), "danger"
        else:
            notice.object, notice.alert_type = html.escape(message), "success"
        notice.visible = True
        refresh()

    def on_rename(_: Any) -> None:
        if choose.value:
            sid = uuid.UUID(choose.value)
            act(
                lambda c: speakers.rename(c, sid, new_name.value, user.reach),
                S.SELLER_RENAMED.format(name=new_name.value.strip() or S.NO_VALUE),
            )

    def on_merge(_: Any) -> None:
        if choose.value and into.value:
            names = {v: k for k, v in choose.options.items()}
            source, target = uuid.UUID(choose.value), uuid.UUID(into.value)
            message = S.SELLERS_MERGED.format(source=names[choose.value], target=names[into.value])
            act(lambda c: speakers.merge(c, source, target, user.reach), message)

    rename.on_click(on_rename)
    merge.on_click(on_merge)
    refresh()
    controls = [pn.Row(choose, new_name, rename), pn.Row(into, merge)] if user.can_act else []
    return pn.Column(
        f"### {S.SELLERS}",
        pn.pane.Markdown(f"*{S.SELLERS_HINT}*"),
        notice,
        listing,
        *controls,
        sizing_mode="stretch_width",
    )


def transcript_frame(segments: list[dict[str, Any]], rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The transcript's rows with who said each (when the segments carry roles)."""
    frame = pd.DataFrame(rows)
    if segments and any("role" in s for s in segments):
        frame.insert(0, "role", [S.SPEAKER_ROLES.get(s.get("role"), S.NO_VALUE) for s in segments])
    return frame


def colour_roles(transcript: pn.widgets.Tabulator, segments: list[dict[str, Any]]) -> None:
    """Each transcript row in its role's colour."""
    colours = [S.ROLE_COLOURS.get(s.get("role"), "") for s in segments]
    if not any(colours):
        return

    def paint(row: pd.Series) -> list[str]:
        colour = colours[row.name] if row.name < len(colours) else ""
        return [f"background-color: {colour}" if colour else ""] * len(row)

    transcript.style.apply(paint, axis=1)
