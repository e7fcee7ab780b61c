"""Serve the dashboard: every page behind a login (ADMIN_TOKEN, or Panel OAuth in the cloud)."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import jinja2
import panel as pn

from dashboard import strings as S
from dashboard.pages import PAGES
from salescontrol.config import settings

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


def _render_template(name: str) -> str:
    """Put our Russian strings into a login/logout template; Panel fills in the rest."""
    source = (HERE / name).read_text(encoding="utf-8")
    # Panel renders the file again with its own variables; keep those as they are.
    env = jinja2.Environment(
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        autoescape=True,
    )
    text = env.from_string(source).render(S=S)
    path = Path(tempfile.mkdtemp(prefix="salescontrol-dashboard-")) / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _cookie_secret(admin_token: str) -> str:
    # Every instance derives the same secret, so a login survives a Cloud Run scale-out.
    return (
        os.environ.get("PANEL_COOKIE_SECRET")
        or hashlib.sha256(b"salescontrol-dashboard:" + admin_token.encode()).hexdigest()
    )


def _authorize(user_info: dict[str, Any], path: str) -> bool:
    """With OAuth, only the e-mail addresses of DASHBOARD_ALLOWED_USERS get in."""
    allowed = {u.strip().lower() for u in settings().dashboard_allowed_users.split(",")}
    user = str(user_info.get("email") or user_info.get("user") or "").lower()
    return bool(user) and user in allowed


def auth_options() -> dict[str, Any]:
    """pn.serve arguments for the login: OAuth if configured, else the admin token."""
    s = settings()
    logout = {"logout_template": _render_template("logout.html")}
    if s.dashboard_oauth_provider:
        s.require("dashboard_allowed_users")
        pn.config.authorize_callback = _authorize
        return {"oauth_provider": s.dashboard_oauth_provider, **logout}
    token = s.require("admin_token")
    return {
        "basic_auth": token,
        "cookie_secret": _cookie_secret(token),
        "login_template": _render_template("login.html"),
        **logout,
    }


def serve(port: int, address: str = "127.0.0.1", websocket_origins: list[str] | None = None):
    """Start the dashboard server and block until it stops."""
    settings().require("database_url")
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
        **auth_options(),
    )
