"""Sending a digest: e-mail over SMTP (SMTP_*) and Telegram over the Bot API
(TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL). Each raises SendFailed with a reason a person
can act on, and says whether trying again later may help (`transient`).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import requests
from digest_render import Message

from salescontrol.config import Settings


class SendFailed(Exception):
    """A channel did not take the digest; `transient`: a later try may succeed."""

    def __init__(self, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.reason, self.transient = reason, transient


def configured(s: Settings) -> dict[str, bool]:
    """Which channels this deployment can send on."""
    return {"email": bool(s.smtp_host), "telegram": bool(s.telegram_bot_token)}


def message_id(user_id: int, day: date, s: Settings) -> str:
    """One Message-ID per recipient and day: a repeated send is the same message."""
    domain = (s.smtp_from.rpartition("@")[2] or "salescontrol").strip(">") or "salescontrol"
    digest = hashlib.sha256(f"{user_id}:{day}".encode()).hexdigest()[:16]
    return f"<digest.{day:%Y%m%d}.{digest}@{domain}>"


def email(message: Message, to: str, user_id: int, day: date, s: Settings) -> None:
    """Send the digest as one e-mail with a plain-text and an HTML part."""
    sender = s.require("smtp_from")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = formataddr(("SalesControl", sender))
    mail["To"] = to
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = message_id(user_id, day, s) if s.smtp_from else make_msgid()
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a report
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    try:
        client: smtplib.SMTP
        if s.smtp_tls == "ssl":
            context = ssl.create_default_context()
            client = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.digest_timeout_sec, context=context
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.digest_timeout_sec)
        with client:
            if s.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password)
            client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise SendFailed(f"SMTP refused {to}: {code} {_text(text)}", code < 500) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise SendFailed(
            f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}", False
        ) from None
    except smtplib.SMTPResponseException as exc:
        reason = f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
        raise SendFailed(reason, exc.smtp_code < 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailed(f"SMTP {s.smtp_host}:{s.smtp_port} unreachable: {exc}", True) from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def telegram(message: Message, chat_id: str, s: Settings) -> None:
    """Send the digest as one Telegram message (HTML parse mode, no link previews)."""
    url = f"{s.telegram_api_url.rstrip('/')}/bot{s.require('telegram_bot_token')}/sendMessage"
    body = {
        "chat_id": chat_id,
        "text": message.telegram,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    try:
        answer = requests.post(url, json=body, timeout=s.digest_timeout_sec)
    except requests.RequestException as exc:
        # The URL holds the bot's token: say where, never the token.
        raise SendFailed(f"Telegram unreachable: {type(exc).__name__}", True) from None
    try:
        result = answer.json()
    except ValueError:
        result = {}
    if answer.status_code == 200 and result.get("ok"):
        return
    reason = result.get("description") or answer.reason
    # 429 (too many requests) and 5xx pass; a wrong chat, a blocked bot or a bad token not.
    transient = answer.status_code == 429 or answer.status_code >= 500
    raise SendFailed(f"Telegram {answer.status_code}: {reason}", transient)
