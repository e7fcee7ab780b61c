"""Who is looking at a page, and what they may do: the one check every page goes through.

A page learns its user from the session id the login put on the request
(`login.SESSION_HEADER`). Pages then read and write only through `transaction(user)`,
which looks the session up again in the same transaction: a page left open after a
logout, a password change, a disabled user or changed rights reads nothing more and
changes nothing (SessionEnded). `act=True` also requires a role that may change things.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import panel as pn
from sqlalchemy.engine import Connection

from dashboard import login, sessions
from dashboard import strings as S
from dashboard.users import User
from salescontrol import analytics, db
from salescontrol.errors import SalesControlError


class SessionEnded(SalesControlError):
    """The page's login has ended (or its rights changed): log in again."""

    def __init__(self) -> None:
        super().__init__(S.SESSION_ENDED)


class NotAllowed(SalesControlError):
    """The user's role may not do this."""

    def __init__(self) -> None:
        super().__init__(S.NOT_ALLOWED)


def current() -> User | None:
    """The user of the browser session this page is built for, or None."""
    headers = pn.state.headers or {}
    session_id = login.session_of(headers.get(login.SESSION_HEADER))
    if session_id is None:
        return None
    with db.transaction() as conn:
        session = sessions.by_id(conn, session_id)
    return session.user if session else None


def check(conn: Connection, user: User, act: bool = False) -> None:
    """SessionEnded if the page's session is over or its rights changed; NotAllowed if
    `act` and the role is read-only. A user with no session (built in-process) passes."""
    if user.session_id is not None:
        session = sessions.by_id(conn, user.session_id)
        if session is None or (session.user.role, session.user.points) != (
            user.role,
            user.points,
        ):
            raise SessionEnded()
    if act and not user.can_act:
        raise NotAllowed()


@contextmanager
def transaction(user: User, act: bool = False) -> Iterator[Connection]:
    """A database transaction for `user`'s page, after `check()` passed."""
    with db.transaction() as conn:
        check(conn, user, act)
        analytics.for_reports(conn)
        yield conn
