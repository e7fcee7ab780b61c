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

import numpy as np
import playwright.sync_api as playwright
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import add_device, add_dialogue
from google.cloud import pubsub_v1

from dashboard import strings as S
from devkit import headless, synth
from devkit.local.stack import free_port
from devkit.waiting import poll_until
from salescontrol import devices, speakers, storage, voices

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
    with tempfile.TemporaryDirectory() as tmp:
        path = synth.write(Path(tmp) / "d.ogg", synth.silence(12.0))
        storage.bucket().blob(audio_object).upload_from_filename(str(path))
    return {"good": good, "engine": migrated_db}


@pytest.fixture
def dashboard(shop: dict, fresh_db: str, stack_env: dict, tmp_path: Path) -> Iterator[str]:
    """`python -m salescontrol dashboard` on a free port, serving the shop's database."""
    port = free_port()
    env = {**os.environ, **stack_env, "DATABASE_URL": fresh_db, "LOG_FORMAT": "text"}
    log_path = tmp_path / "dashboard.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "salescontrol", "dashboard", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            try:
                return requests.get(base + "/login", timeout=2).status_code == 200
            except requests.ConnectionError:
                assert proc.poll() is None, log_path.read_text()
                return False

        try:
            _poll(up, "the dashboard to listen", timeout=60)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)


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


def _login(page, base: str, token: str) -> None:
    page.goto(base + "/")
    page.get_by_label(S.LOGIN_PROMPT).fill(token)
    page.get_by_role("button", name=S.LOGIN_BUTTON).click()


def test_wrong_token_is_refused(dashboard: str, browser_page, stack_env: dict) -> None:
    page = browser_page
    _login(page, dashboard, "not-" + stack_env["ADMIN_TOKEN"])
    playwright.expect(page.get_by_text(S.LOGIN_ERROR)).to_be_visible()
    page.screenshot(path=ARTIFACTS / "01-wrong-token.png")
    page.goto(dashboard + "/dialogues")
    assert "/login" in page.url
    playwright.expect(page.get_by_text(S.COLUMNS["summary"])).to_have_count(0)


def test_owner_logs_in_filters_opens_a_dialogue_and_reruns(
    dashboard: str, browser_page, stack_env: dict, shop: dict, listener
) -> None:
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, stack_env["ADMIN_TOKEN"])

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
    _login(page, dashboard, stack_env["ADMIN_TOKEN"])
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
    page.get_by_label(S.SELECT_DEVICE).select_option(
        label=f"Магазин на Мира · Касса 7 · {device_id}"
    )
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


def test_dashboard_refuses_to_start_without_admin_token(fresh_db: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("ADMIN_TOKEN", "DASHBOARD_OAUTH_PROVIDER")
    }
    result = subprocess.run(
        [sys.executable, "-m", "salescontrol", "dashboard", "--port", str(free_port())],
        cwd=REPO,
        env={**env, "DATABASE_URL": fresh_db},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ADMIN_TOKEN is not set" in result.stderr


def _seller(conn, point_id, number: int, voice_seed: int) -> uuid.UUID:
    """A learned seller of the point (as asr_service/roles.py records them)."""
    seller_id = uuid.uuid4()
    rng = np.random.default_rng(voice_seed)
    conn.execute(
        sa.text(
            "INSERT INTO sellers (seller_id, point_id, number, voice, dialogues) "
            "VALUES (:s, :p, :n, :v, 3)"
        ),
        {
            "s": seller_id,
            "p": point_id,
            "n": number,
            "v": voices.pack(speakers.unit(rng.standard_normal(256))),
        },
    )
    return seller_id


@pytest.fixture
def rush(migrated_db: sa.Engine, shop: dict) -> dict:
    """A coffee shop whose two seller voices were learned, one dialogue with roles, and
    radio speech the pipeline dropped."""
    now = datetime.now(UTC)
    with migrated_db.begin() as conn:
        dev = add_device(conn, "Кофейня у вокзала", "Касса 2")
        first = _seller(conn, dev.point_id, 1, 1)
        second = _seller(conn, dev.point_id, 2, 2)
        roles = add_dialogue(
            conn,
            dev,
            now - timedelta(hours=1),
            segments=[
                {
                    "start": 0.0,
                    "end": 2.0,
                    "text": "А к нему есть чехол?",
                    "role": "customer",
                    "role_conf": 0.9,
                },
                {
                    "start": 2.5,
                    "end": 5.0,
                    "text": "Есть, на стойке справа.",
                    "role": "seller",
                    "role_conf": 0.8,
                },
            ],
            analysis={"attempted": False, "quality_score": 5},
            seller_id=first,
        )
        for k, seller in enumerate([first, second, second]):
            add_dialogue(
                conn,
                dev,
                now - timedelta(minutes=90 + k),
                segments=[{"start": 0.0, "end": 3.0, "text": "Пакет нужен?"}],
                analysis={"attempted": seller == second, "accepted": True, "quality_score": 7},
                seller_id=seller,
            )
        chunk_id = uuid.uuid4()
        start_ms = int((now - timedelta(hours=1)).timestamp() * 1000)
        conn.execute(
            sa.text(
                "INSERT INTO audio_chunks (chunk_id, device_id, started_at, duration_sec, "
                "size_bytes, sha256, codec, sample_rate, object_name, status) VALUES "
                "(:c, :d, :t, 60, 1, 'x', 'opus', 16000, :o, 'DONE')"
            ),
            {
                "c": chunk_id,
                "d": dev.device_id,
                "t": now - timedelta(hours=1),
                "o": f"t/{chunk_id}",
            },
        )
        conn.execute(
            sa.text(
                "INSERT INTO background_speech (chunk_id, seq, device_id, start_ms, end_ms) "
                "VALUES (:c, 0, :d, :s, :e), (:c, 1, :d, :s2, :e2)"
            ),
            {
                "c": chunk_id,
                "d": dev.device_id,
                "s": start_ms,
                "e": start_ms + 4_500,
                "s2": start_ms + 20_000,
                "e2": start_ms + 23_000,
            },
        )
    return {"roles": roles, "first": first, "second": second, "engine": migrated_db}


def test_sellers_roles_and_dropped_background_speech_are_shown(
    dashboard: str, browser_page, stack_env: dict, rush: dict
) -> None:
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, stack_env["ADMIN_TOKEN"])

    # Overview: the sellers ranked like registers; "Продавец 2" upsold in both dialogues.
    expect(page.get_by_text(S.SELLER_RANKING, exact=True)).to_be_visible()
    ranking = page.locator(".bk-panel-models-tabulator-DataTabulator, .tabulator").filter(
        has_text=S.SELLER_DEFAULT.format(number=2)
    )
    expect(ranking.first).to_be_visible()
    rows = ranking.first.locator(".tabulator-row")
    expect(rows.first).to_contain_text(S.SELLER_DEFAULT.format(number=2))
    expect(rows.first).to_contain_text("100")
    page.screenshot(path=ARTIFACTS / "08-seller-ranking.png", full_page=True)

    # Dialogue: each segment says who spoke, in that role's colour.
    page.goto(f"{dashboard}/dialogue?id={rush['roles']}")
    customer = page.locator(".tabulator-row").filter(has_text="А к нему есть чехол?")
    seller = page.locator(".tabulator-row").filter(has_text="Есть, на стойке справа.")
    expect(customer).to_contain_text(S.ROLES["customer"])
    expect(seller).to_contain_text(S.ROLES["seller"])
    page.screenshot(path=ARTIFACTS / "09-dialogue-roles.png", full_page=True)
    # S.ROLE_COLOURS as the browser computes them.
    role_cell = ".tabulator-cell[tabulator-field='role']"
    expect(customer.locator(role_cell)).to_have_css("background-color", "rgb(255, 243, 214)")
    expect(seller.locator(role_cell)).to_have_css("background-color", "rgb(227, 240, 255)")
    page.screenshot(path=ARTIFACTS / "09-dialogue-roles.png", full_page=True)

    # Pipeline: the radio speech dropped before ASR is counted per register.
    page.goto(dashboard + "/pipeline")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=ARTIFACTS / "10-pipeline-background.png", full_page=True)
    expect(page.get_by_text(S.BACKGROUND, exact=True)).to_be_visible()
    row = page.locator(".tabulator-row").filter(has_text="Кофейня у вокзала")
    expect(row).to_contain_text("7,5")  # 4.5 s + 3 s
    page.screenshot(path=ARTIFACTS / "10-pipeline-background.png", full_page=True)

    # Devices: the owner names seller 1 and merges seller 2 into her.
    page.goto(dashboard + "/devices")
    expect(page.get_by_text(S.SELLERS, exact=True)).to_be_visible()
    pick = page.get_by_label(S.SELECT_SELLER)
    pick.select_option(label=f"{S.SELLER_DEFAULT.format(number=1)} · Кофейня у вокзала")
    page.get_by_label(S.SELLER_NEW_NAME).fill("Анна <b>")
    page.get_by_role("button", name=S.RENAME).click()
    expect(page.get_by_text(S.SELLER_RENAMED.format(name="Анна <b>"))).to_be_visible()
    pick.select_option(label=f"{S.SELLER_DEFAULT.format(number=2)} · Кофейня у вокзала")
    page.get_by_label(S.MERGE_INTO).select_option(label="Анна <b> · Кофейня у вокзала")
    page.get_by_role("button", name=S.MERGE).click()
    expect(page.get_by_text("Записи объединены", exact=False)).to_be_visible()
    page.screenshot(path=ARTIFACTS / "11-sellers-merged.png", full_page=True)
    with rush["engine"].connect() as conn:
        names = conn.execute(
            sa.text("SELECT seller_id, name, merged_into FROM sellers WHERE seller_id IN (:a, :b)"),
            {"a": rush["first"], "b": rush["second"]},
        ).all()
    got = {r.seller_id: (r.name, r.merged_into) for r in names}
    assert got == {rush["first"]: ("Анна <b>", None), rush["second"]: (None, rush["first"])}
    # The merged seller's dialogues now count for Анна: 4 dialogues in one row.
    expect(page.locator(".tabulator-row").filter(has_text="Анна <b>")).to_contain_text("4")
