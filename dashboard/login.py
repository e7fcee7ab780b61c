"""The dashboard's door: login, logout and password pages, and the Bokeh auth provider.

Every page and its websocket ask `get_user`, which accepts only a live server-side
session (`dashboard.sessions`) named by the signed, HttpOnly, SameSite=Lax cookie. The
session's public id is put on the request as SESSION_HEADER, replacing whatever the
client sent; Bokeh copies request headers (but not cookies: `server_options`) into the
signed session token, so a page learns who opened it without its token carrying the
cookie's secret, which the page's JavaScript could read.

Forms: the login form carries Tornado's `_xsrf` double-submit token; logout and password
forms carry a token bound to the session (`sessions.csrf_token`). Logins are throttled
(`dashboard.throttle`) before the password is checked, and argon2 runs off the event loop.
"""

from __future__ import annotations

import logging
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import jinja2
import sqlalchemy as sa
import tornado.web
from bokeh.server.auth_provider import AuthProvider
from markupsafe import Markup
from tornado.ioloop import IOLoop

from dashboard import sessions, throttle, users
from dashboard import strings as S
from salescontrol import db
from salescontrol.config import settings
from salescontrol.errors import BadInput

log = logging.getLogger(__name__)

COOKIE = "salescontrol_session"
SESSION_HEADER = "X-Salescontrol-Session"
LOGIN_URL = "/login"
LOGOUT_URL = "/logout"
PASSWORD_URL = "/password"
HEALTH_URL = "/health"
MIN_SECRET_LENGTH = 32
# argon2 takes 64 MiB and ~0.2 s of CPU per check: at most two at once, off the event
# loop, so a burst of logins queues instead of exhausting the instance's memory.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
)
# Our forms need no script, no frames and no other site's resources.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def client_address(handler: tornado.web.RequestHandler) -> str:
    """The client's address: the TCP peer, or the DASHBOARD_PROXY_HOPS-th from the right
    of X-Forwarded-For (entries further left are whatever the client wrote)."""
    hops = settings().dashboard_proxy_hops
    if hops > 0:
        forwarded = handler.request.headers.get("X-Forwarded-For", "")
        chain = [a.strip() for a in forwarded.split(",") if a.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return handler.request.remote_ip or "unknown"


def current_session(handler: tornado.web.RequestHandler) -> sessions.Session | None:
    """The live session of the request's cookie, or None."""
    raw = handler.get_signed_cookie(COOKIE, max_age_days=31)
    if not raw:
        return None
    with db.transaction() as conn:
        return sessions.by_token(conn, raw.decode("ascii", "replace"))


def get_user(handler: tornado.web.RequestHandler) -> str | None:
    """Bokeh's hook: the user name of a live session, and its id on the request."""
    handler.request.headers.pop(SESSION_HEADER, None)  # never the client's own
    session = current_session(handler)
    if session is None:
        return None
    handler.request.headers[SESSION_HEADER] = str(session.session_id)
    return session.user.name


def safe_next(value: str | None) -> str:
    """Where to go after login: a path on this site, never another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urllib.parse.urlsplit(value)
    return "/" if parts.scheme or parts.netloc else value


class _Page(tornado.web.RequestHandler):
    """Renders our templates with security headers; no caching."""

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", _CSP)
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "same-origin")

    def page(self, name: str, status: int = 200, **values: Any) -> None:
        self.set_status(status)
        self.write(_TEMPLATES.get_template(name).render(S=S, **values))

    def set_session_cookie(self, token: str, session: sessions.Session) -> None:
        secure = self.request.protocol == "https" or (
            self.request.headers.get("X-Forwarded-Proto", "") == "https"
        )
        self.set_signed_cookie(
            COOKIE,
            token,
            expires_days=None,
            expires=session.expires_at,
            httponly=True,
            samesite="Lax",
            secure=secure,
            path="/",
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.page("message.html", status_code, title=S.LOGIN_TITLE, message=S.FORBIDDEN)


class LoginHandler(_Page):
    def get(self) -> None:
        self.login_page(next_url=safe_next(self.get_argument("next", "/")))

    def login_page(self, next_url: str, error: str = "", status: int = 200) -> None:
        self.page(
            "login.html",
            status,
            xsrf=Markup(self.xsrf_form_html()),
            next_url=next_url,
            error=error,
        )

    async def post(self) -> None:
        self.check_xsrf_cookie()
        name = self.get_argument("username", "").strip()[:200]
        password = self.get_argument("password", "")[:1000]
        next_url = safe_next(self.get_argument("next", "/"))
        address = client_address(self)
        user_key, address_key = throttle.user_key(name), throttle.address_key(address)
        s = settings()
        limits = [
            throttle.Limit(user_key, s.dashboard_login_attempts_per_user),
            throttle.Limit(address_key, s.dashboard_login_attempts_per_address),
        ]
        with db.transaction() as conn:
            wait = throttle.attempt(conn, limits, s.dashboard_login_lockout_sec)
        if wait:
            log.warning("dashboard login throttled: user %r from %s", name, address)
            self.set_header("Retry-After", str(wait))
            self.login_page(next_url, _throttled(wait), 429)
            return
        user = await IOLoop.current().run_in_executor(_HASHING, _verify, name, password)
        if user is None:
            log.warning("dashboard login failed: user %r from %s", name, address)
            self.login_page(next_url, S.LOGIN_ERROR, 401)
            return
        with db.transaction() as conn:
            throttle.succeeded(conn, user_key, address_key)
            token, session = sessions.start(
                conn, user, address, self.request.headers.get("User-Agent", "")
            )
        log.info("dashboard login: user %r (%s) from %s", user.name, user.role, address)
        self.set_session_cookie(token, session)
        self.redirect(next_url)


def _throttled(wait_sec: int) -> str:
    return S.LOGIN_THROTTLED.format(minutes=max(1, round(wait_sec / 60)))


def _verify(name: str, password: str) -> users.User | None:
    with db.transaction() as conn:
        return users.verify(conn, name, password)


class LogoutHandler(_Page):
    def get(self) -> None:
        session = current_session(self)
        if session is None:
            self.page("message.html", title=S.LOGIN_TITLE, message=S.LOGOUT_DONE, login=True)
            return
        csrf = sessions.csrf_token(session.session_id)
        self.page("logout.html", csrf=csrf, user=session.user.name)

    def post(self) -> None:
        session = current_session(self)
        if session is not None:
            if not sessions.csrf_ok(session.session_id, self.get_argument("csrf", "")):
                raise tornado.web.HTTPError(403, "logout without the session's CSRF token")
            with db.transaction() as conn:
                sessions.revoke(conn, session.session_id)
            log.info("dashboard logout: user %r", session.user.name)
        self.clear_cookie(COOKIE, path="/")
        self.page("message.html", title=S.LOGIN_TITLE, message=S.LOGOUT_DONE, login=True)


class PasswordHandler(_Page):
    def prepare(self) -> None:
        self.session = current_session(self)
        if self.session is None:
            self.redirect("." + LOGIN_URL + "?" + urllib.parse.urlencode({"next": PASSWORD_URL}))

    def form(self, error: str = "", status: int = 200) -> None:
        assert self.session is not None
        csrf = sessions.csrf_token(self.session.session_id)
        self.page("password.html", status, csrf=csrf, user=self.session.user.name, error=error)

    def get(self) -> None:
        self.form()

    async def post(self) -> None:
        session = self.session
        assert session is not None
        if not sessions.csrf_ok(session.session_id, self.get_argument("csrf", "")):
            raise tornado.web.HTTPError(403, "password change without the session's CSRF token")
        current = self.get_argument("current", "")[:1000]
        new, again = self.get_argument("new", "")[:1000], self.get_argument("again", "")[:1000]
        name, s = session.user.name, settings()
        limit = throttle.Limit(throttle.user_key(name), s.dashboard_login_attempts_per_user)
        with db.transaction() as conn:
            wait = throttle.attempt(conn, [limit], s.dashboard_login_lockout_sec)
        if wait:
            self.set_header("Retry-After", str(wait))
            self.form(_throttled(wait), 429)
            return
        if await IOLoop.current().run_in_executor(_HASHING, _verify, name, current) is None:
            self.form(S.PASSWORD_WRONG, 401)
            return
        if new != again:
            self.form(S.PASSWORD_MISMATCH, 400)
            return
        try:
            users.check_password(new, name)
        except BadInput:
            self.form(S.PASSWORD_WEAK.format(n=users.MIN_PASSWORD_LENGTH), 400)
            return
        address, agent = client_address(self), self.request.headers.get("User-Agent", "")
        token, fresh, ended = await IOLoop.current().run_in_executor(
            _HASHING, _change_password, session.user, new, address, agent
        )
        log.info("dashboard password changed: user %r; %d sessions ended", name, ended)
        self.set_session_cookie(token, fresh)
        self.page("message.html", title=S.PASSWORD_TITLE, message=S.PASSWORD_CHANGED, home=True)


def _change_password(
    user: users.User, password: str, address: str, agent: str
) -> tuple[str, sessions.Session, int]:
    """Set the password, end every session of the user, start one for this browser."""
    with db.transaction() as conn:
        users.set_password(conn, user.name, password)
        ended = sessions.revoke_all(conn, user.user_id)
        throttle.succeeded(conn, throttle.user_key(user.name), throttle.address_key(address))
        token, fresh = sessions.start(conn, user, address, agent)
    return token, fresh, ended


class HealthHandler(tornado.web.RequestHandler):
    """`GET /health`: {"status": "healthy"} once the database answers, else 503 (the seed's
    check, and Cloud Run's probe). No login: it says nothing but whether the database is
    reachable. The query runs off the event loop, so a hung database stalls no page."""

    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        try:
            await IOLoop.current().run_in_executor(_PROBE, _database_answers)
        except Exception as exc:  # any failure means unhealthy; the log says which
            log.warning("health check: the database does not answer: %s", exc)
            self.set_status(503)
            self.finish({"status": "unhealthy", "reason": "database unreachable"})
            return
        self.finish({"status": "healthy"})


_PROBE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")


def _database_answers() -> None:
    with db.transaction() as conn:
        conn.execute(sa.text("SELECT 1")).scalar_one()


class SessionAuth(AuthProvider):
    """Bokeh's auth hooks backed by dashboard.sessions."""

    @property
    def get_user(self):  # type: ignore[override]
        return get_user

    @property
    def login_url(self) -> str:  # type: ignore[override]
        return LOGIN_URL

    @property
    def login_handler(self) -> type[tornado.web.RequestHandler]:  # type: ignore[override]
        return LoginHandler

    @property
    def logout_url(self) -> str:  # type: ignore[override]
        return LOGOUT_URL

    @property
    def logout_handler(self) -> type[tornado.web.RequestHandler]:  # type: ignore[override]
        return LogoutHandler


def cookie_secret() -> str:
    """DASHBOARD_COOKIE_SECRET, checked: long enough and not the admin API's token."""
    s = settings()
    secret = s.require("dashboard_cookie_secret")
    if len(secret) < MIN_SECRET_LENGTH:
        raise BadInput(
            f"DASHBOARD_COOKIE_SECRET must have at least {MIN_SECRET_LENGTH} characters "
            "(openssl rand -hex 32)"
        )
    if s.admin_token and secret == s.admin_token:
        raise BadInput("DASHBOARD_COOKIE_SECRET must not be ADMIN_TOKEN: give it its own value")
    return secret


def server_options() -> dict[str, Any]:
    """pn.serve / Bokeh server arguments of the login: auth hooks, keys, token contents."""
    cookie_secret()
    return {
        "auth_provider": SessionAuth(),
        "cookie_secret": sessions.key("tornado-cookies").hex(),
        # Session tokens are signed, so the SESSION_HEADER a page reads is the server's.
        "sign_sessions": True,
        "secret_key": sessions.key("bokeh-sessions").hex(),
        # The token reaches the page's JavaScript: no cookies in it, session or XSRF.
        "exclude_cookies": [COOKIE, "_xsrf"],
        "exclude_headers": ["Cookie"],
        "extra_patterns": server_options_patterns(),
    }


def server_options_patterns() -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    """The dashboard's own HTTP handlers beside Panel's pages (Bokeh's login and logout
    come from the auth provider)."""
    return [(PASSWORD_URL, PasswordHandler), (HEALTH_URL, HealthHandler)]


def session_of(session_id: str | None) -> UUID | None:
    """SESSION_HEADER's value as a session id (None if missing or malformed)."""
    try:
        return UUID(session_id) if session_id else None
    except ValueError:
        return None
