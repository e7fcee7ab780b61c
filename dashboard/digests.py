"""Who gets the daily digest, and where: a dashboard user's e-mail address and Telegram
chat (table `digest_recipients`, sql/050_digest.sql), set with `python -m dashboard
users digest`. The digest (functions/digest) covers the points the user may see.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import users
from salescontrol.errors import BadInput

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# A chat's numeric id (a group's is negative) or a public channel's @name.
TELEGRAM_CHAT = re.compile(r"^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{5,32}$")


def set_channels(
    conn: Connection, name: str, email: str | None, telegram_chat_id: str | None
) -> None:
    """Send `name` the digest to `email` and/or `telegram_chat_id` (None: not there)."""
    user = users.get(conn, name)
    if email is not None and not EMAIL.match(email):
        raise BadInput(f"not an e-mail address: {email!r}", "email")
    if telegram_chat_id is not None and not TELEGRAM_CHAT.match(telegram_chat_id):
        raise BadInput(
            f"a Telegram chat is its numeric id or a channel's @name: {telegram_chat_id!r}",
            "telegram",
        )
    if email is None and telegram_chat_id is None:
        raise BadInput("give --email, --telegram or both (or --off)")
    conn.execute(
        sa.text(
            "INSERT INTO digest_recipients (user_id, email, telegram_chat_id) "
            "VALUES (:u, :e, :t) ON CONFLICT (user_id) DO UPDATE SET email = :e, "
            "telegram_chat_id = :t, updated_at = now()"
        ),
        {"u": user.user_id, "e": email, "t": telegram_chat_id},
    )


def stop(conn: Connection, name: str) -> bool:
    """No more digests for `name`; whether there were any."""
    user = users.get(conn, name)
    deleted = conn.execute(
        sa.text("DELETE FROM digest_recipients WHERE user_id = :u"), {"u": user.user_id}
    )
    return deleted.rowcount > 0


def channels(conn: Connection) -> dict[str, str]:
    """Each recipient's channels as the CLI lists them: name -> "e-mail, Telegram"."""
    rows = conn.execute(
        sa.text(
            "SELECT u.name, r.email, r.telegram_chat_id FROM digest_recipients r "
            "JOIN dashboard_users u USING (user_id)"
        )
    ).all()
    return {
        r.name: ", ".join(
            x for x in (r.email, r.telegram_chat_id and f"telegram {r.telegram_chat_id}") if x
        )
        for r in rows
    }
