"""The dashboard's pages; each function builds one page for one browser session.

The data comes from `dashboard.queries`; the pages only lay it out, in Russian
(`dashboard.strings`), with times in DASHBOARD_TIMEZONE.
"""

from dashboard.pages.devices import devices_page
from dashboard.pages.dialogue import dialogue_page
from dashboard.pages.dialogues import dialogues_page
from dashboard.pages.overview import overview_page
from dashboard.pages.pipeline import pipeline_page

PAGES = {
    "/": overview_page,
    "/dialogues": dialogues_page,
    "/dialogue": dialogue_page,
    "/devices": devices_page,
    "/pipeline": pipeline_page,
}

__all__ = ["PAGES", "devices_page", "dialogue_page", "dialogues_page", "overview_page"]
__all__ += ["pipeline_page"]
