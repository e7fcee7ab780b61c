"""HTML the pages may show: every value escaped unless it was built here from escaped parts.

Values from audio (transcripts), the LLM (offers, quotes, summaries, recommendations,
model names), devices (health reports, chunk errors) and people (point, register and
user names, search text) can carry `<img src=x onerror=...>`. Panel's Markdown, HTML
and Alert panes pass HTML through, so a page never formats such a value into one
itself: it builds the markup with `html()` (which escapes every value it is given) and
shows it with `pane()`; the shared table helper escapes every cell that is not `Html`
(`pages.common.table`). A value that is `Html` was made here and is never escaped twice.
"""

from __future__ import annotations

import html as _html
from typing import Any

import panel as pn


class Html(str):
    """Markup that is safe to show: written by us, with every outside value escaped."""

    __slots__ = ()


def escape(value: Any) -> Html:
    """`value` as text that shows literally in HTML (Html passes unchanged)."""
    if isinstance(value, Html):
        return value
    return Html(_html.escape("" if value is None else str(value), quote=True))


def html(template: str, /, **values: Any) -> Html:
    """`template` (our own markup) with its `{name}` fields filled by escaped values."""
    return Html(template.format(**{k: escape(v) for k, v in values.items()}))


def join(parts: list[Any], separator: str = "") -> Html:
    """Several pieces as one markup; parts that are not Html are escaped."""
    return Html(escape(separator).join(escape(p) for p in parts))


def pane(markup: Html, **kwargs: Any) -> pn.pane.HTML:
    """An HTML pane of markup built by `html()`; refuses a plain string."""
    if not isinstance(markup, Html):
        raise TypeError("safe.pane() takes markup from safe.html(), not a plain string")
    return pn.pane.HTML(markup, **kwargs)
