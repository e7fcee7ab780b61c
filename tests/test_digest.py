"""The daily digest: the digest function in process against a real Postgres, a real SMTP
server (aiosmtpd) and the Telegram stand-in; and once through the local stack, as the
local timer calls it. Screenshots of the e-mail: test-artifacts/digest/."""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import functions_framework
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import add_chunk, add_device, add_dialogue, add_user

from dashboard import digests
from devkit import headless
from devkit.local.mail import SmtpServer, TelegramApi
from devkit.local.net import free_port
from devkit.paths import FUNCTIONS_DIR
from devkit.waiting import poll_until
from salescontrol import db

SOURCE = FUNCTIONS_DIR / "digest" / "main.py"
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "digest"
MSK = "Europe/Moscow"
DAY = date(2026, 11, 20)  # a Friday
TOKEN = "123456:test-bot-token"
CHAT = "100500"
HOSTILE = '<img src=x onerror="alert(1)">'


def _at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


def _sale(conn, dev, at, attempted, accepted=None, quality=5, summary=None, seconds=30.0):
    offers = [{"product": "круассан", "quote": "К кофе круассан?", "accepted": bool(accepted)}]
    return add_dialogue(
        conn,
        dev,
        at,
        seconds=seconds,
        segments=[{"start": 0.0, "end": 3.0, "text": "Кофе, пожалуйста."}],
        analysis={
            "attempted": attempted,
            "accepted": accepted,
            "quality_score": quality,
            "offers": offers if attempted else [],
            "summary": summary,
        },
    )


@pytest.fixture
def shop(migrated_db: sa.Engine) -> dict:
    """Two bakeries. DAY: A1 sells well, A2 badly, B once; the week before: a steadier A1."""
    with migrated_db.begin() as conn:
        a1 = add_device(conn, "Пекарня на Ленина", "Касса 1")
        a2 = add_device(conn, "Пекарня на Ленина", "Касса 2", point_id=a1.point_id)
        b1 = add_device(conn, f"Пекарня {HOSTILE}", "Касса 1")
        best = _sale(conn, a1, _at(9), True, True, 9, "Предложила круассан к кофе, взяли")
        _sale(conn, a1, _at(10), True, True, 7)
        _sale(conn, a1, _at(11), True, False, 6, "Предложила пирожное, отказались")
        missed = _sale(conn, a2, _at(12), False, quality=1, summary="Допродажи не было", seconds=90)
        _sale(conn, a2, _at(13), False, quality=2)
        _sale(conn, a2, _at(14), True, False, 3)
        hostile = _sale(conn, b1, _at(15), True, True, 8, f"Сводка {HOSTILE}")
        for days in range(1, 8):
            _sale(conn, a1, _at(10, day=DAY - timedelta(days=days)), days % 2 == 0, True, 5)
        add_chunk(conn, a2, "REJECTED", _at(12), "sha256 mismatch")
        owner = add_user(conn, "anna", "owner")
        add_user(conn, "boris", "manager", [b1.point_id])
        digests.set_channels(conn, "anna", "anna@shop.example", CHAT)
    return {
        "engine": migrated_db,
        "best": best,
        "missed": missed,
        "hostile": hostile,
        "password": owner,
        "b": b1.point_id,
    }


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[dict]:
    """A real SMTP server (aiosmtpd) and the Telegram stand-in, in this process; `smtp`
    answers with whatever `refuse[0]` says (None: accept)."""
    refuse: list[str | None] = [None]
    smtp = SmtpServer(tmp_path / "mail", free_port(), lambda envelope: refuse[0])
    telegram = TelegramApi(tmp_path / "telegram", free_port(), TOKEN, chats={CHAT, "777"})
    smtp.start()
    telegram.start()
    yield {
        "smtp": smtp,
        "telegram": telegram,
        "mail": tmp_path / "mail",
        "chats": tmp_path / "telegram",
        "refuse": refuse,
    }
    smtp.stop()
    telegram.stop()


@pytest.fixture
def tick(shop, outside, fresh_db: str, monkeypatch: pytest.MonkeyPatch):
    """POST to the digest function in process, configured for `outside`; (status, body)."""
    env = {
        "DATABASE_URL": fresh_db,
        "DASHBOARD_TIMEZONE": MSK,
        "DASHBOARD_URL": "https://dash.shop.example",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(outside["smtp"].controller.port),
        "SMTP_TLS": "none",
        "SMTP_FROM": "salescontrol@shop.example",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{outside['telegram'].port}",
        "DIGEST_TIMEOUT_SEC": "10",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    db.dispose_engines()
    client = functions_framework.create_app("digest", str(SOURCE)).test_client()

    def post(body: dict | None = None) -> tuple[int, dict]:
        answer = client.post("/", json=body) if body is not None else client.post("/")
        return answer.status_code, answer.get_json()

    yield post
    db.dispose_engines()


def _mails(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def _telegrams(folder: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def _deliveries(engine: sa.Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT channel, status, attempts, error FROM digest_deliveries")
        ).all()
    return {r.channel: (r.status, r.attempts, r.error) for r in rows}


def test_a_tick_sends_the_day_by_email_and_telegram_and_a_retried_tick_sends_nothing(
    shop, outside, tick
) -> None:
    status, body = tick({"day": DAY.isoformat()})
    assert status == 200, body
    assert sorted(s["channel"] for s in body["sent"]) == ["email", "telegram"]
    [mail] = _mails(outside["mail"])
    assert mail["To"] == "anna@shop.example"
    assert mail["From"] == "SalesControl <salescontrol@shop.example>"
    assert mail["Subject"] == "SalesControl за 20.11.2026: 7 диалогов, допродажи 71%"
    assert mail["Message-ID"].endswith("@shop.example>") and mail["Auto-Submitted"]
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    page = mail.get_body(("html",)).get_content()
    # 7 dialogues, 5 offers of 7 sales (71%), 3 accepted of 5 (60%); the 7 days before:
    # 7 dialogues, 3 offers (43%) all accepted (100%).
    assert "Диалогов: 7 (за 7 дней до этого: 1,0 в день)" in text
    assert "Доля допродаж: 71% (за 7 дней до этого: 43%, +28 п.п.)" in text
    assert "Доля согласий: 60% (за 7 дней до этого: 100%, −40 п.п.)" in text
    assert "Лучшая касса: Пекарня на Ленина · Касса 1 — допродажи 100% (3 из 3)" in text
    assert "Отстающая касса: Пекарня на Ленина · Касса 2 — допродажи 33% (1 из 3)" in text
    assert f"https://dash.shop.example/dialogue?id={shop['best']}" in text
    assert f"https://dash.shop.example/dialogue?id={shop['missed']}" in text
    assert "Отклонено записей (чанков): 1 — sha256 mismatch" in text
    assert "Лучшая допродажа" in page and "Открыть диалог" in page
    [message] = _telegrams(outside["chats"])
    assert message["chat_id"] == CHAT and message["parse_mode"] == "HTML"
    assert "Доля допродаж: <b>71%</b>" in message["text"]
    assert f'<a href="https://dash.shop.example/dialogue?id={shop["best"]}">' in message["text"]
    assert _deliveries(shop["engine"]) == {
        "email": ("SENT", 1, None),
        "telegram": ("SENT", 1, None),
    }

    status, again = tick({"day": DAY.isoformat()})  # the scheduler's retry, or a later tick
    assert status == 200 and again["sent"] == [] and again["skipped"] == 2
    assert len(_mails(outside["mail"])) == 1 and len(_telegrams(outside["chats"])) == 1


def test_ticks_at_the_same_moment_send_each_message_once(shop, outside, tick) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: tick({"day": DAY.isoformat()}), range(4)))
    assert all(status == 200 for status, _ in results)
    assert sum(len(body["sent"]) for _, body in results) == 2
    assert len(_mails(outside["mail"])) == 1 and len(_telegrams(outside["chats"])) == 1


def test_a_tick_without_a_day_sends_yesterday(shop, outside, tick) -> None:
    yesterday = datetime.now(ZoneInfo(MSK)).date() - timedelta(days=1)
    status, body = tick()
    assert status == 200 and body["day"] == yesterday.isoformat()
    [mail] = _mails(outside["mail"])
    assert f"{yesterday:%d.%m.%Y}" in mail["Subject"]


def test_a_mail_server_that_says_later_is_tried_again_by_the_next_tick(shop, outside, tick) -> None:
    outside["refuse"][0] = "451 4.3.0 Try again later"
    status, body = tick({"day": DAY.isoformat()})
    assert status == 503  # Cloud Scheduler retries the tick
    assert body["failed"][0]["channel"] == "email" and "451" in body["failed"][0]["reason"]
    assert [s["channel"] for s in body["sent"]] == ["telegram"]
    assert _deliveries(shop["engine"])["email"][:2] == ("FAILED", 1)
    outside["refuse"][0] = None
    status, body = tick({"day": DAY.isoformat()})
    assert status == 200 and [s["channel"] for s in body["sent"]] == ["email"]
    assert _deliveries(shop["engine"])["email"] == ("SENT", 2, None)
    assert len(_mails(outside["mail"])) == 1 and len(_telegrams(outside["chats"])) == 1


def test_a_refused_address_stops_after_its_attempts_and_the_other_channel_still_goes(
    shop, outside, tick
) -> None:
    outside["refuse"][0] = "550 5.1.1 No such user"
    with shop["engine"].begin() as conn:
        digests.set_channels(conn, "anna", "anna@shop.example", "-100123")  # no such chat
    for attempt in (1, 2, 3):
        status, body = tick({"day": DAY.isoformat()})
        assert status == 200  # nothing a retry of the tick would change
        assert {f["channel"]: f["attempt"] for f in body["failed"]} == {
            "email": attempt,
            "telegram": attempt,
        }
    assert "chat not found" in _deliveries(shop["engine"])["telegram"][2]
    status, body = tick({"day": DAY.isoformat()})
    assert body["failed"] == [] and body["skipped"] == 2  # DIGEST_MAX_ATTEMPTS (3) used up
    assert _mails(outside["mail"]) == [] and _telegrams(outside["chats"]) == []


def test_a_manager_gets_their_points_only(shop, outside, tick) -> None:
    with shop["engine"].begin() as conn:
        digests.stop(conn, "anna")
        digests.set_channels(conn, "boris", None, "777")
    status, body = tick({"day": DAY.isoformat()})
    assert status == 200 and [s["user"] for s in body["sent"]] == ["boris"]
    [message] = _telegrams(outside["chats"])
    assert "Ленина" not in message["text"] and "Диалогов: <b>1</b>" in message["text"]
    assert str(shop["hostile"]) in message["text"]


def test_outside_values_are_text_in_every_part(shop, outside, tick) -> None:
    with shop["engine"].begin() as conn:  # B's manager: B's name and summary are in it
        digests.stop(conn, "anna")
        digests.set_channels(conn, "boris", "boris@shop.example", "777")
    assert tick({"day": DAY.isoformat()})[0] == 200
    [mail] = _mails(outside["mail"])
    page = mail.get_body(("html",)).get_content()
    assert HOSTILE not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    [message] = _telegrams(outside["chats"])  # the stand-in refuses tags Telegram refuses
    assert HOSTILE not in message["text"] and "&lt;img" in message["text"]


def test_the_email_as_a_person_sees_it(shop, outside, tick) -> None:
    """The HTML part in Chromium, saved as a picture (look at it), and its plain part."""
    assert tick({"day": DAY.isoformat()})[0] == 200
    [mail] = _mails(outside["mail"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page_file = ARTIFACTS / "email.html"
    page_file.write_text(mail.get_body(("html",)).get_content(), encoding="utf-8")
    (ARTIFACTS / "email.txt").write_text(mail.get_body(("plain",)).get_content(), "utf-8")
    (ARTIFACTS / "telegram.txt").write_text(_telegrams(outside["chats"])[0]["text"], "utf-8")
    with headless.browser_context() as context:
        page = context.new_page()
        page.set_viewport_size({"width": 700, "height": 900})
        page.goto(page_file.as_uri())
        for text in ("Доля допродаж", "71%", "Примеры диалогов", "Открыть дашборд"):
            assert page.get_by_text(text, exact=True).first.is_visible(), text
        width = page.evaluate("document.querySelector('div').getBoundingClientRect().width")
        assert width <= 640  # readable on a phone and in a mail client's pane
        page.screenshot(path=ARTIFACTS / "email.png", full_page=True)


def test_the_stacks_digest_function_sends_through_the_stacks_smtp_and_telegram(
    stack, engine, api
) -> None:
    """As the local timer calls it: the stack's own SMTP server and Telegram stand-in."""
    name = f"owner-{uuid.uuid4().hex[:8]}"
    device = api.register(point_name="Кофейня у стека", register_name="Касса 1")
    with engine.begin() as conn:
        add_user(conn, name, "owner")
        digests.set_channels(conn, name, f"{name}@example.com", "424242")
        dev = conn.execute(
            sa.text("SELECT * FROM devices WHERE device_id = :d"), {"d": device["device_id"]}
        ).first()
        add_dialogue(conn, dev, _at(10, day=date(2026, 10, 1)), analysis={"attempted": True})
    answer = requests.post(stack.url("digest") + "/", json={"day": "2026-10-01"}, timeout=60)
    assert answer.status_code == 200, answer.text
    mine = [s for s in answer.json()["sent"] if s["user"] == name]
    assert sorted(s["channel"] for s in mine) == ["email", "telegram"]

    def mail_arrived() -> list:
        return [m for m in _mails(stack.workdir / "mail") if m["To"] == f"{name}@example.com"]

    [mail] = poll_until(mail_arrived, 10, message="the e-mail in the stack's mail folder")
    assert "Кофейня у стека" in mail.get_body(("plain",)).get_content()
    chats = [m for m in _telegrams(stack.workdir / "telegram") if m["chat_id"] == "424242"]
    assert len(chats) == 1 and "Кофейня у стека" in chats[0]["text"]
    # the local timer calls it every DIGEST_INTERVAL_SEC, beside the sweeper
    assert stack.schedule == {"sweeper": 60.0, "digest": 3600.0}


def test_the_users_command_sets_lists_and_stops_the_digest(
    migrated_db: sa.Engine, fresh_db: str
) -> None:
    with migrated_db.begin() as conn:
        add_user(conn, "vera", "viewer")
    env = {**os.environ, "DATABASE_URL": fresh_db}

    def users_cmd(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dashboard", "users", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = users_cmd("digest", "vera", "--email", "vera@shop.example", "--telegram", "@shop_rep")
    assert done.returncode == 0, done.stderr
    assert (
        "vera gets the daily digest: vera@shop.example and Telegram chat @shop_rep" in done.stdout
    )
    assert "digest: vera@shop.example, telegram @shop_rep" in users_cmd("list").stdout
    for bad in (["--email", "vera"], ["--telegram", "my chat"], []):
        refused = users_cmd("digest", "vera", *bad)
        assert refused.returncode == 2 and "error:" in refused.stderr
    assert users_cmd("digest", "nobody", "--email", "a@b.cd").returncode == 2
    assert "no more digests" in users_cmd("digest", "vera", "--off").stdout
    assert "digest:" not in users_cmd("list").stdout


@contextlib.contextmanager
def _counting_server() -> Iterator[tuple[str, list[tuple[str, float]]]]:
    """A local HTTP server that notes the path and time of every POST it gets."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls: list[tuple[str, float]] = []

    class Count(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append((self.path, datetime.now(UTC).timestamp()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


def test_the_local_timer_calls_each_scheduled_function_on_its_interval() -> None:
    from devkit.local.scheduler import Job, Scheduler

    with _counting_server() as (base, calls):
        timer = Scheduler(
            [Job("sweeper", base + "/sweep", 0.2), Job("digest", base + "/digest", 0.5)]
        )
        timer.start()
        try:
            poll_until(
                lambda: sum(p == "/digest" for p, _ in calls) >= 2, 10, message="two digests"
            )
        finally:
            timer.stop()
    sweeps = sum(p == "/sweep" for p, _ in calls)
    digests_ = sum(p == "/digest" for p, _ in calls)
    assert sweeps >= 2 * digests_ - 1  # each job on its own interval


def test_a_stopped_local_timer_calls_nothing_and_ticks_again_once_restarted() -> None:
    """What `LocalStack.scheduler_paused` (the tests' `sweeper_alone`) relies on."""
    from devkit.local.scheduler import Job, Scheduler

    with _counting_server() as (base, calls):
        timer = Scheduler([Job("sweeper", base + "/", 0.1)])
        timer.start()
        try:
            poll_until(lambda: len(calls) >= 1, 10, message="a first tick")
            timer.stop(wait=None)
            stopped = len(calls)
            time.sleep(0.5)
            assert len(calls) == stopped
            timer.start()
            poll_until(lambda: len(calls) > stopped, 10, message="a tick after the restart")
        finally:
            timer.stop()
