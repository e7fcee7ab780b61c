"""Who gets the digest where (table `digest_recipients`, set by `python -m dashboard
users digest`), and the claim on each delivery (table `digest_deliveries`): the
idempotency key of the digest is (recipient, local day, channel).

A tick claims a delivery in a transaction of its own before it sends (SENDING) and
records the outcome after (SENT, or FAILED with the reason). A repeated or concurrent
tick finds the row claimed or sent and sends nothing; FAILED is tried again by a later
tick up to DIGEST_MAX_ATTEMPTS; SENDING left by a tick that died is taken over after
DIGEST_CLAIM_TIMEOUT_SEC (the one case where a message could go twice: the tick died
between the server's acceptance and the SENT mark; e-mail keeps one Message-ID per day,
which mail clients use to drop a repeat).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection


class Channel(enum.StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"


class Delivery(enum.StrEnum):
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Recipient:
    """A dashboard user who asked for the digest, and the points it covers."""

    user_id: int
    name: str
    points: frozenset[UUID] | None  # None: every point (an owner)
    addresses: dict[Channel, str]  # channel -> e-mail address or Telegram chat id


def recipients(conn: Connection) -> list[Recipient]:
    """Every enabled dashboard user with a digest channel. The points are the user's
    reach as the dashboard draws it (dashboard.users.User.reach): an owner every point,
    a manager or viewer the points given to them."""
    rows = conn.execute(
        sa.text(
            "SELECT u.user_id, u.name, u.role, r.email, r.telegram_chat_id, "
            "coalesce(array_agg(p.point_id) FILTER (WHERE p.point_id IS NOT NULL), '{}') "
            "AS points FROM digest_recipients r JOIN dashboard_users u USING (user_id) "
            "LEFT JOIN dashboard_user_points p USING (user_id) WHERE u.is_enabled "
            "GROUP BY u.user_id, r.email, r.telegram_chat_id ORDER BY u.user_id"
        )
    ).all()
    found = []
    for row in rows:
        addresses = {Channel.EMAIL: row.email, Channel.TELEGRAM: row.telegram_chat_id}
        found.append(
            Recipient(
                row.user_id,
                row.name,
                None if row.role == "owner" else frozenset(UUID(str(p)) for p in row.points),
                {c: a for c, a in addresses.items() if a},
            )
        )
    return found


def finished(conn: Connection, recipient: Recipient, day: date, max_attempts: int) -> set[Channel]:
    """The channels whose delivery of `day` is done: SENT, or FAILED with no tries left
    (a cheap look before the digest is built; `claim` still decides)."""
    rows = conn.execute(
        sa.text(
            "SELECT channel FROM digest_deliveries WHERE user_id = :u AND day = :d "
            "AND (status = :sent OR (status = :failed AND attempts >= :max))"
        ),
        {
            "u": recipient.user_id,
            "d": day,
            "sent": Delivery.SENT.value,
            "failed": Delivery.FAILED.value,
            "max": max_attempts,
        },
    ).scalars()
    return {Channel(c) for c in rows}


def claim(
    conn: Connection,
    recipient: Recipient,
    day: date,
    channel: Channel,
    max_attempts: int,
    claim_timeout_sec: float,
) -> int | None:
    """Claim the day's delivery on `channel`: the attempt number, or None when it is
    sent, being sent, or out of attempts."""
    return conn.execute(
        sa.text(
            "INSERT INTO digest_deliveries (user_id, day, channel, address, status) "
            "VALUES (:u, :d, :c, :a, :sending) "
            "ON CONFLICT (user_id, day, channel) DO UPDATE SET status = :sending, "
            "attempts = digest_deliveries.attempts + 1, address = EXCLUDED.address, "
            "claimed_at = now(), error = NULL "
            "WHERE digest_deliveries.attempts < :max AND (digest_deliveries.status = :failed "
            "OR (digest_deliveries.status = :sending "
            "AND digest_deliveries.claimed_at < now() - make_interval(secs => :timeout))) "
            "RETURNING attempts"
        ),
        {
            "u": recipient.user_id,
            "d": day,
            "c": channel.value,
            "a": recipient.addresses[channel],
            "sending": Delivery.SENDING.value,
            "failed": Delivery.FAILED.value,
            "max": max_attempts,
            "timeout": claim_timeout_sec,
        },
    ).scalar_one_or_none()


def record(
    conn: Connection, recipient: Recipient, day: date, channel: Channel, error: str | None
) -> None:
    """The outcome of a claimed delivery: SENT, or FAILED with `error`."""
    conn.execute(
        sa.text(
            "UPDATE digest_deliveries SET status = :status, error = :error, "
            "sent_at = CASE WHEN CAST(:error AS text) IS NULL THEN now() END "
            "WHERE user_id = :u AND day = :d AND channel = :c"
        ),
        {
            "status": (Delivery.FAILED if error else Delivery.SENT).value,
            "error": error[:1000] if error else None,
            "u": recipient.user_id,
            "d": day,
            "c": channel.value,
        },
    )
