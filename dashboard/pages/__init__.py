"""The dashboard's pages; each function builds one page for one browser session.

The data comes from `dashboard.queries`; the pages only lay it out, in Russian
(`dashboard.strings`), with times in DASHBOARD_TIMEZONE.
"""

import functools
import logging
from collections.abc import Callable
from typing import Any

import panel as pn
import sqlalchemy as sa

from dashboard import strings as S
from dashboard.pages.common import layout
from dashboard.pages.devices import devices_page
from dashboard.pages.dialogue import dialogue_page
from dashboard.pages.dialogues import dialogues_page
from dashboard.pages.overview import overview_page
from dashboard.pages.pipeline import pipeline_page
from salescontrol.errors import SalesControlError

log = logging.getLogger(__name__)


def guarded(build: Callable[[], Any]) -> Callable[[], Any]:
    """The page, or a Russian error page when the database or a setting fails it."""

    @functools.wraps(build)
    def page() -> Any:
        try:
            return build()
        except (sa.exc.SQLAlchemyError, SalesControlError, OSError) as exc:
            log.exception("page %s failed", build.__name__)
            alert = pn.pane.Alert(S.PAGE_FAILED.format(error=exc), alert_type="danger")
            return layout(S.PAGE_FAILED_TITLE, alert)

    return page


PAGES = {
    "/": guarded(overview_page),
    "/dialogues": guarded(dialogues_page),
    "/dialogue": guarded(dialogue_page),
    "/devices": guarded(devices_page),
    "/pipeline": guarded(pipeline_page),
}

__all__ = ["PAGES", "devices_page", "dialogue_page", "dialogues_page", "guarded", "overview_page"]
__all__ += ["pipeline_page"]
