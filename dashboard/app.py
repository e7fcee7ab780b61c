"""Serve the dashboard: every page behind the dashboard's own login (`dashboard.login`)."""

from __future__ import annotations

import logging

import panel as pn

from dashboard import export, login
from dashboard import strings as S
from dashboard.pages import PAGES
from salescontrol.config import settings

log = logging.getLogger(__name__)


def serve(port: int, address: str = "127.0.0.1", websocket_origins: list[str] | None = None):
    """Start the dashboard server and block until it stops."""
    settings().require("database_url")
    options = login.server_options()  # fails at start without a usable cookie secret
    options["extra_patterns"] = [*options["extra_patterns"], *export.patterns()]
    # Bokeh refuses a websocket from any other origin: a page on another site cannot
    # drive the buttons of an open dashboard (cross-site websocket hijacking).
    origins = websocket_origins or [f"localhost:{port}", f"127.0.0.1:{port}"]
    log.info("dashboard on http://%s:%d", address, port)
    pn.serve(
        PAGES,
        port=port,
        address=address,
        websocket_origin=origins,
        show=False,
        title=S.TITLE,
        threaded=False,
        **options,
    )
