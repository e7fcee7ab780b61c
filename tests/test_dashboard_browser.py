"""The dashboard in a real headless Chromium (Debian's), driven by Playwright.

Screenshots of every step land in test-artifacts/dashboard/ (look at them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import playwright.sync_api as playwright
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import add_device, add_dialogue, add_user, password_of, served_dashboard
from google.cloud import pubsub_v1

from dashboard import strings as S
from devkit import headless, synth
from devkit.local.stack import free_port
from devkit.waiting import poll_until
from salescontrol import devices, storage

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.slow


def _poll(check: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    return poll_until(check, timeout, message=what)


@pytest.fixture
def shop(migrated_db: sa.Engine, stack_env: dict) -> dict:
    """Two analysed dialogues of today; the first has audio in fake-gcs-server."""
    now = datetime.now(UTC)
    with migrated_db.begin() as conn:
        dev = add_device(conn, "Магазин на Ленина", "Касса 1")
        devices.record_health(conn, dev.device_id, {"queue_files": 3, "disk_free_mb": 812})
        good = add_dialogue(
            conn,
            dev,
            now - timedelta(hours=2),
            segments=[
                {"start": 0.0, "end": 4.0, "text": "Оформим карту лояльности?"},
                {"start": 5.0, "end": 9.0, "text": "Да, давайте карту."},
            ],
            analysis={
                "attempted": True,
                "accepted": True,
                "quality_score": 9,
                "offers": [
                    {"product": "карта лояльности", "quote": "Оформим карту?", "accepted": True}
                ],
                "summary": "Продавец предложил карту лояльности",
                "recommendation": "Так держать",
                "analyzer": "llm",
                "model": "gpt-4o-mini",
            },
        )
        add_dialogue(
            conn,
            dev,
            now - timedelta(hours=3),
            segments=[{"start": 0.0, "end": 3.0, "text": "Оплата картой."}],
            analysis={"attempted": False, "quality_score": 1, "summary": "Допродажи не было"},
        )
        audio_object = conn.execute(
            sa.text("SELECT audio_object FROM dialogues WHERE dialogue_id = :d"), {"d": good}
        ).scalar_one()
        add_user(conn, "owner", "owner")
        add_user(conn, "viewer", "viewer", [dev.point_id])
    with tempfile.TemporaryDirectory() as tmp:
        path = synth.write(Path(tmp) / "d.ogg", synth.silence(12.0))
        storage.bucket().blob(audio_object).upload_from_filename(str(path))
    return {"good": good, "engine": migrated_db, "device": dev}


@pytest.fixture
def dashboard(shop: dict, fresh_db: str, stack_env: dict, tmp_path: Path) -> Iterator[str]:
    """`python -m salescontrol dashboard` on a free port, serving the shop's database."""
    with served_dashboard(fresh_db, stack_env, tmp_path / "dashboard.log") as base:
        yield base


@pytest.fixture
def browser_page() -> Iterator[object]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with headless.browser_context(TIMEOUT_MS) as context:
        yield context.new_page()


@pytest.fixture
def listener(stack_env: dict) -> Iterator[Callable[[str], dict]]:
    """Temporary pull subscriptions; `receive(topic)` returns the next message's payload."""
    project = stack_env["GOOGLE_CLOUD_PROJECT"]
    subscriber = pubsub_v1.SubscriberClient()
    publisher = pubsub_v1.PublisherClient()
    created: dict[str, str] = {}

    def subscribe(topic: str) -> None:
        path = subscriber.subscription_path(project, f"test-dash-{topic}-{uuid.uuid4().hex[:8]}")
        subscriber.create_subscription(name=path, topic=publisher.topic_path(project, topic))
        created[topic] = path

    def receive(topic: str) -> dict:
        def pulled() -> list:
            got = subscriber.pull(subscription=created[topic], max_messages=1, timeout=5)
            return got.received_messages

        message = _poll(pulled, f"a message on {topic}")[0]
        subscriber.acknowledge(subscription=created[topic], ack_ids=[message.ack_id])
        return json.loads(message.message.data)

    receive.subscribe = subscribe  # type: ignore[attr-defined]
    yield receive
    for path in created.values():
        subscriber.delete_subscription(subscription=path)
    subscriber.close()


def _login(page, base: str, name: str, password: str | None = None, path: str = "/") -> None:
    page.goto(base + path)
    page.get_by_label(S.LOGIN_USER).fill(name)
    page.get_by_label(S.LOGIN_PROMPT).fill(password_of(name) if password is None else password)
    page.get_by_role("button", name=S.LOGIN_BUTTON).click()


def test_wrong_password_and_the_admin_token_are_refused(
    dashboard: str, browser_page, stack_env: dict
) -> None:
    page = browser_page
    _login(page, dashboard, "owner", "not-" + password_of("owner"))
    playwright.expect(page.get_by_text(S.LOGIN_ERROR)).to_be_visible()
    page.screenshot(path=ARTIFACTS / "01-wrong-password.png")
    # The admin API's token opens the admin API only (the old "admin" login is gone).
    _login(page, dashboard, "admin", stack_env["ADMIN_TOKEN"])
    playwright.expect(page.get_by_text(S.LOGIN_ERROR)).to_be_visible()
    page.goto(dashboard + "/dialogues")
    assert "/login" in page.url
    playwright.expect(page.get_by_text(S.COLUMNS["summary"])).to_have_count(0)


def test_owner_logs_in_filters_opens_a_dialogue_and_reruns(
    dashboard: str, browser_page, stack_env: dict, shop: dict, listener
) -> None:
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, "owner")

    # Overview: two dialogues, one upsell attempt of one sales dialogue pair, accepted.
    expect(page.get_by_text(S.KPI_ATTEMPT_RATE, exact=True)).to_be_visible()
    expect(page.locator(".kpis")).to_contain_text("50%")
    expect(page.get_by_text("карта лояльности", exact=True)).to_be_visible()
    page.screenshot(path=ARTIFACTS / "02-overview.png", full_page=True)

    # Dialogues: both listed; the transcript search keeps one.
    page.get_by_role("link", name=S.NAV_DIALOGUES).click()
    expect(page.get_by_text(S.PAGE.format(page=1, pages=1, total=2))).to_be_visible()
    search = page.get_by_placeholder(S.SEARCH_HINT)
    search.fill("лояльност")
    search.press("Enter")
    expect(page.get_by_text(S.PAGE.format(page=1, pages=1, total=1))).to_be_visible()
    expect(page.get_by_text("Допродажи не было")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "03-dialogues-search.png", full_page=True)

    # One dialogue: transcript, analysis, a signed audio URL of fake-gcs-server.
    page.locator("a[href*='dialogue?id=']").click()  # the start time links to the dialogue
    expect(page.get_by_text("Да, давайте карту.")).to_be_visible()
    expect(page.get_by_text("Продавец предложил карту лояльности")).to_be_visible()
    expect(page.get_by_text("«Оформим карту?»")).to_be_visible()
    expect(page.get_by_text("gpt-4o-mini", exact=False)).to_be_visible()
    audio = page.locator("audio")
    src = audio.get_attribute("src")
    assert src.startswith(stack_env["STORAGE_EMULATOR_HOST"]) and "X-Goog-Signature=" in src
    assert requests.get(src, timeout=10).status_code == 200

    # Clicking a segment plays from its start (5 s).
    page.get_by_text("Да, давайте карту.").click()
    _poll(lambda: audio.evaluate("a => a.currentTime") >= 4.9, "the player to seek to 5 s")
    page.screenshot(path=ARTIFACTS / "04-dialogue.png", full_page=True)

    # Re-run buttons publish the pipeline's own messages.
    listener.subscribe("transcripts-ready")
    listener.subscribe("asr-requests")
    page.get_by_role("button", name=S.RERUN_ANALYSIS).click()
    assert listener("transcripts-ready") == {"dialogue_id": str(shop["good"]), "force": True}
    page.get_by_role("button", name=S.RERUN_ASR).click()
    request = listener("asr-requests")
    assert (request["dialogue_id"], request["tier"], request["force"]) == (
        str(shop["good"]),
        "accurate",
        True,
    )
    expect(page.get_by_text(S.RERUN_SENT.format(what=S.RERUN_ASR))).to_be_visible()
    page.screenshot(path=ARTIFACTS / "05-rerun.png", full_page=True)


def test_owner_registers_and_disables_a_device(
    dashboard: str, browser_page, stack_env: dict, shop: dict
) -> None:
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, "owner")
    page.goto(dashboard + "/devices")
    expect(page.get_by_text("queue_files=3", exact=True)).to_be_visible()  # last health report
    expect(page.get_by_text("disk_free_mb=812", exact=True)).to_be_visible()
    page.get_by_label(S.POINT_NAME).fill("Магазин на Мира")
    page.get_by_label(S.REGISTER_NAME).fill("Касса 7")
    page.get_by_role("button", name=S.REGISTER_BUTTON).click()
    expect(page.get_by_text("Токен показывается один раз", exact=False)).to_be_visible()
    token = page.locator("code").inner_text().strip()
    assert len(token) == 64
    expect(page.get_by_text("Магазин на Мира", exact=True)).to_be_visible()
    page.screenshot(path=ARTIFACTS / "06-device-registered.png", full_page=True)

    with shop["engine"].connect() as conn:
        device_id = conn.execute(
            sa.text(
                "SELECT d.device_id FROM devices d JOIN points p USING (point_id) "
                "WHERE p.name = 'Магазин на Мира'"
            )
        ).scalar_one()
    page.locator("select").select_option(label=f"Магазин на Мира · Касса 7 · {device_id}")
    page.get_by_role("button", name=S.DISABLE).click()
    expect(
        page.get_by_text(S.DEVICE_SAVED.format(device_id=device_id, state=S.DISABLED))
    ).to_be_visible()
    with shop["engine"].connect() as conn:
        enabled = conn.execute(
            sa.text("SELECT is_enabled FROM devices WHERE device_id = :d"), {"d": device_id}
        ).scalar_one()
    assert enabled is False
    page.screenshot(path=ARTIFACTS / "07-device-disabled.png", full_page=True)


def test_dashboard_refuses_to_start_without_its_own_cookie_secret(fresh_db: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DASHBOARD_COOKIE_SECRET"}

    def start(**extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "salescontrol", "dashboard", "--port", str(free_port())],
            cwd=REPO,
            env={**env, "DATABASE_URL": fresh_db, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    missing = start()
    assert missing.returncode == 2
    assert "DASHBOARD_COOKIE_SECRET is not set" in missing.stderr
    token = "t" * 40
    reused = start(ADMIN_TOKEN=token, DASHBOARD_COOKIE_SECRET=token)
    assert reused.returncode == 2 and "must not be ADMIN_TOKEN" in reused.stderr
    short = start(DASHBOARD_COOKIE_SECRET="short")
    assert short.returncode == 2 and "at least 32 characters" in short.stderr
