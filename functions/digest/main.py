"""digest: the owner's morning (Cloud Scheduler each morning; the local stack's timer).

POST / (body optional: {"day": "YYYY-MM-DD"}, default yesterday in DASHBOARD_TIMEZONE)
sends every digest recipient (`python -m dashboard users digest`) the day's figures by
e-mail and/or Telegram, once per recipient, day and channel however often it is called
(digest_recipients: the claim). The answer counts what was sent, skipped and failed;
it is 503 when a send failed and a later tick may succeed, so the scheduler retries.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import digest_channels
import digest_content
import digest_recipients
import digest_render
import functions_framework
import sqlalchemy.exc
from digest_recipients import Channel, Recipient
from flask import Request

from salescontrol.config import settings
from salescontrol.db import transaction
from salescontrol.errors import BadInput, TransientError
from salescontrol.log import setup_logging

setup_logging(settings().log_level, settings().log_format)
log = logging.getLogger("digest")


def _day(request: Request) -> date:
    """The day asked for, or yesterday in the shops' time zone."""
    body = request.get_json(silent=True) if request.content_length else None
    if body is None or body == {}:
        tz = ZoneInfo(settings().dashboard_timezone)
        return datetime.now(tz).date() - timedelta(days=1)
    if not isinstance(body, dict) or set(body) != {"day"} or not isinstance(body["day"], str):
        raise BadInput('the body is {"day": "YYYY-MM-DD"} or nothing', "day")
    try:
        return date.fromisoformat(body["day"])
    except ValueError:
        raise BadInput("day: YYYY-MM-DD", "day") from None


@functions_framework.http
def digest(request: Request) -> tuple[dict[str, Any], int]:
    try:
        day = _day(request)
    except BadInput as exc:
        return {"error": "invalid_request", "message": exc.reason, "field": exc.field}, 400
    try:
        result = send_day(day)
    except (TransientError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        log.warning("digest failed, the next tick retries: %s", exc)
        return {"error": "transient", "message": "database unavailable; the next tick retries"}, 503
    status = 503 if result["retry"] else 200
    return result, status


def send_day(day: date) -> dict[str, Any]:
    """Send `day`'s digest to every recipient on each of their channels, once."""
    s = settings()
    can = digest_channels.configured(s)
    result: dict[str, Any] = {"day": day.isoformat(), "sent": [], "skipped": 0, "failed": []}
    result["not_configured"] = []
    with transaction() as conn:
        everyone = digest_recipients.recipients(conn)
    for recipient in everyone:
        with transaction() as conn:
            done = digest_recipients.finished(conn, recipient, day, s.digest_max_attempts)
        todo = {}
        for channel, address in recipient.addresses.items():
            where = {"user": recipient.name, "channel": channel.value, "to": address}
            if not can[channel.value]:
                result["not_configured"].append(where)
            elif channel in done:
                result["skipped"] += 1
            else:
                todo[channel] = where
        if not todo:
            continue
        # Built before any claim: a failure here leaves nothing half claimed.
        message = _message(recipient, day)
        for channel, where in todo.items():
            with transaction() as conn:
                attempt = digest_recipients.claim(
                    conn,
                    recipient,
                    day,
                    channel,
                    s.digest_max_attempts,
                    s.digest_claim_timeout_sec,
                )
            if attempt is None:  # sent already, being sent, or out of attempts
                result["skipped"] += 1
                continue
            error = _send(message, recipient, day, channel)
            with transaction() as conn:
                digest_recipients.record(conn, recipient, day, channel, error and error.reason)
            if error is None:
                log.info("digest sent", extra={**where, "day": day.isoformat()})
                result["sent"].append(where)
            else:
                log.warning("digest not sent: %s", error.reason, extra=where)
                result["failed"].append({**where, "reason": error.reason, "attempt": attempt})
                if error.transient and attempt < s.digest_max_attempts:
                    result["retry"] = True
    result.setdefault("retry", False)
    return result


def _message(recipient: Recipient, day: date) -> digest_render.Message:
    s = settings()
    with transaction() as conn:
        content = digest_content.build(
            conn, recipient.name, recipient.points, day, s.dashboard_timezone
        )
    return digest_render.render(
        content,
        s.dashboard_timezone,
        s.dashboard_url,
        digest_content.COMPARE_DAYS,
        recipient.name,
    )


def _send(
    message: digest_render.Message, recipient: Recipient, day: date, channel: Channel
) -> digest_channels.SendFailed | None:
    s = settings()
    address = recipient.addresses[channel]
    try:
        if channel == Channel.EMAIL:
            digest_channels.email(message, address, recipient.user_id, day, s)
        else:
            digest_channels.telegram(message, address, s)
    except digest_channels.SendFailed as exc:
        return exc
    return None
