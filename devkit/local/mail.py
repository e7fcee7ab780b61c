"""The outside world's stand-ins for the daily digest: an SMTP server (aiosmtpd) and the
Telegram Bot API's `sendMessage`, each keeping what it got as files.

    python -m devkit.local.mail smtp --port 2525 --dir mail/          # NNNN.eml per e-mail
    python -m devkit.local.mail telegram --port 8081 --dir telegram/ --token T  # NNNN.json

Both also run in process (`SmtpServer`, `TelegramApi`), where a test can make them refuse.
The Telegram stand-in checks what the real API checks and a digest can get wrong: the
bot token, a chat id, a text of 1-4096 characters, and HTML that uses only the tags
Telegram's HTML parse mode allows, properly nested.
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from devkit.local.net import port_open
from devkit.local.services import Service, python_env
from devkit.local.supervisor import Launch

TELEGRAM_LIMIT = 4096
# Telegram's HTML parse mode: https://core.telegram.org/bots/api#html-style
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code"}
TELEGRAM_TAGS |= {"pre", "tg-spoiler", "span", "blockquote", "tg-emoji"}


class _Saved:
    """Numbered files in a folder, safe across threads."""

    def __init__(self, folder: Path, suffix: str) -> None:
        self.folder, self.suffix = folder, suffix
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._numbers = itertools.count(len(list(folder.glob(f"*{suffix}"))) + 1)

    def write(self, data: bytes) -> Path:
        with self._lock:
            path = self.folder / f"{next(self._numbers):04d}{self.suffix}"
            path.write_bytes(data)
        return path


class SmtpServer:
    """An SMTP server on 127.0.0.1:`port` that keeps each message as NNNN.eml;
    `answer(envelope)` may return an SMTP reply to refuse it instead."""

    def __init__(
        self, folder: Path, port: int, answer: Callable[[Any], str | None] = lambda e: None
    ) -> None:
        self.saved = _Saved(folder, ".eml")
        self.answer = answer
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refused = self.answer(envelope)
        if refused:
            return refused
        self.saved.write(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class _TagCheck(HTMLParser):
    """Telegram's parse-mode rules: known tags only, closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.problem = self.problem or f'Unsupported start tag "{tag}"'
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problem = self.problem or f'Unexpected end tag "{tag}"'


class TelegramApi:
    """The Bot API's sendMessage on 127.0.0.1:`port` for the bot `token`; it keeps each
    message it accepts as NNNN.json. `chats`: the chats the bot can write to (None: any)."""

    def __init__(self, folder: Path, port: int, token: str, chats: set[str] | None = None):
        self.saved, self.token, self.chats = _Saved(folder, ".json"), token, chats
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, body = api.handle(self.path, self.rfile.read(length))
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]

    def handle(self, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        """An answer as Telegram gives it: {"ok": true, "result"} or an error."""
        if path != f"/bot{self.token}/sendMessage":
            return _error(404, "Not Found")  # Telegram's answer to a wrong token too
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _error(400, "Bad Request: invalid JSON")
        chat, text = str(body.get("chat_id") or ""), body.get("text")
        if not chat:
            return _error(400, "Bad Request: chat_id is empty")
        if self.chats is not None and chat not in self.chats:
            return _error(400, "Bad Request: chat not found")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > TELEGRAM_LIMIT:
            return _error(400, "Bad Request: message is too long")
        if body.get("parse_mode") == "HTML":
            check = _TagCheck()
            check.feed(text)
            check.close()
            problem = check.problem or (f'Unclosed tag "{check.open[-1]}"' if check.open else None)
            if problem:
                return _error(400, f"Bad Request: can't parse entities: {problem}")
        message = {"chat_id": chat, "text": text, "parse_mode": body.get("parse_mode")}
        message["date"] = int(time.time())
        path_saved = self.saved.write(json.dumps(message, ensure_ascii=False).encode())
        result = {"message_id": int(path_saved.stem), "date": message["date"], "text": text}
        return 200, {"ok": True, "result": {**result, "chat": {"id": chat}}}

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _error(code: int, description: str) -> tuple[int, dict[str, Any]]:
    return code, {"ok": False, "error_code": code, "description": description}


class MailService(Service):
    """The stack's SMTP server (`python -m devkit.local.mail smtp`)."""

    name = "mail"

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder

    def launch(self) -> Launch:
        argv = [sys.executable, "-m", "devkit.local.mail", "smtp", "--port", str(self.port)]
        return Launch(self.name, [*argv, "--dir", str(self.folder)], env=python_env({}))


class TelegramService(Service):
    """The stack's Telegram Bot API stand-in (`python -m devkit.local.mail telegram`)."""

    name = "telegram"

    def __init__(self, port: int, folder: Path, token: str) -> None:
        self.port, self.folder, self.token = port, folder, token

    def launch(self) -> Launch:
        argv = [sys.executable, "-m", "devkit.local.mail", "telegram", "--port", str(self.port)]
        argv += ["--dir", str(self.folder)]
        # The token reaches it in the environment, not on a command line others can read.
        return Launch(self.name, argv, env=python_env({"TELEGRAM_BOT_TOKEN": self.token}))

    def ready(self) -> bool:
        return port_open(self.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.local.mail", description=__doc__)
    parser.add_argument("kind", choices=["smtp", "telegram"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--token", help="the bot's token (default: TELEGRAM_BOT_TOKEN)")
    args = parser.parse_args(argv)
    if args.kind == "smtp":
        server: SmtpServer | TelegramApi = SmtpServer(args.dir, args.port)
    else:
        import os

        token = args.token or os.environ.get("TELEGRAM_BOT_TOKEN", "")
        server = TelegramApi(args.dir, args.port, token)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    server.start()
    print(f"{args.kind} stand-in on 127.0.0.1:{args.port}, keeping messages in {args.dir}")
    sys.stdout.flush()
    stopping.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
