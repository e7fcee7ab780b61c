"""The dashboard's pages; each function builds one page for one user's browser session.

The data comes from `dashboard.queries` within the user's reach, read through
`dashboard.access`; the pages only lay it out, in Russian (`dashboard.strings`), with
times in DASHBOARD_TIMEZONE, and show outside values only through `dashboard.safe`.
"""

import functools
import logging
from collections.abc import Callable
from typing import Any

import panel as pn
import sqlalchemy as sa

from dashboard import access, safe, sessions
from dashboard import strings as S
from dashboard.pages.common import layout
from dashboard.pages.devices import devices_page
from dashboard.pages.dialogue import dialogue_page
from dashboard.pages.dialogues import dialogues_page
from dashboard.pages.overview import overview_page
from dashboard.pages.pipeline import pipeline_page
from dashboard.users import User
from salescontrol.errors import SalesControlError

log = logging.getLogger(__name__)

# How often an open page asks whether its login still holds (it also asks on every action).
SESSION_CHECK_MS = 30_000


def _signed_in(user: User) -> pn.pane.HTML:
    """Who is signed in, the password link and the logout button (a form with its token)."""
    csrf = sessions.csrf_token(user.session_id) if user.session_id else ""
    return safe.pane(
        safe.html(
            '<hr><p class="signed-in">{who}</p>'
            '<p><a href="./password">{password}</a></p>'
            '<form method="post" action="./logout"><input type="hidden" name="csrf" '
            'value="{csrf}"><button type="submit" class="logout">{logout}</button></form>',
            who=S.SIGNED_IN.format(name=user.name, role=S.ROLES[user.role]),
            password=S.CHANGE_PASSWORD,
            csrf=csrf,
            logout=S.LOGOUT,
        )
    )


def _ended() -> pn.pane.HTML:
    ended = safe.html(
        '{text} <a href="./login">{again}</a>', text=S.SESSION_ENDED, again=S.LOGIN_AGAIN
    )
    return safe.pane(ended, css_classes=["session-ended"])


def _ended_page() -> Any:
    return layout(S.PAGE_FAILED_TITLE, _ended())


def _watch_session(user: User, template: Any) -> None:
    """Replace the page with "log in again" once its login ends (checked every 30 s)."""

    def check() -> None:
        try:
            with access.transaction(user):
                return
        except access.SessionEnded:
            callback.stop()
            template.main[:] = [_ended()]
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            log.warning("session check failed: %s", exc)

    callback = pn.state.add_periodic_callback(check, period=SESSION_CHECK_MS)


def render(build: Callable[[User], Any], user: User) -> Any:
    """`build`'s page for `user`, or a Russian error page when the database, a setting
    or the user's session fails it."""
    try:
        page = build(user)
    except access.SessionEnded:
        return _ended_page()
    except (sa.exc.SQLAlchemyError, SalesControlError, OSError) as exc:
        log.exception("page %s failed", build.__name__)
        failed = safe.html(S.PAGE_FAILED, error=exc)
        return layout(S.PAGE_FAILED_TITLE, pn.pane.Alert(failed, alert_type="danger"))
    page.sidebar.append(_signed_in(user))
    return page


def guarded(build: Callable[[User], Any]) -> Callable[[], Any]:
    """The page for the browser session's user (the login guarantees there is one)."""

    @functools.wraps(build)
    def page() -> Any:
        try:
            user = access.current()
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            log.exception("looking up the session failed")
            failed = safe.html(S.PAGE_FAILED, error=exc)
            return layout(S.PAGE_FAILED_TITLE, pn.pane.Alert(failed, alert_type="danger"))
        if user is None:
            return _ended_page()
        template = render(build, user)
        if user.session_id is not None and pn.state.curdoc is not None:
            _watch_session(user, template)
        return template

    return page


PAGES = {
    "/": guarded(overview_page),
    "/dialogues": guarded(dialogues_page),
    "/dialogue": guarded(dialogue_page),
    "/devices": guarded(devices_page),
    "/pipeline": guarded(pipeline_page),
}

__all__ = ["PAGES", "devices_page", "dialogue_page", "dialogues_page", "guarded", "overview_page"]
__all__ += ["pipeline_page", "render"]
