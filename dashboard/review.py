"""The "на проверку" note of a verdict a person should check (issue 23), kept apart
from the analysis markdown and escaped here: the reason comes from the analyzers."""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from dashboard import strings as S


def review_note(d: dict[str, Any]) -> pn.pane.HTML | None:
    """A warning with the reason, or None when the verdict needs no check."""
    if not d.get("needs_review"):
        return None
    reason = html.escape(d.get("review_reason") or S.NO_VALUE)
    return pn.pane.HTML(
        f'<div class="review"><b>{html.escape(S.REVIEW)}:</b> {reason}</div>',
        sizing_mode="stretch_width",
    )
