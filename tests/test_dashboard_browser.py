"""The dashboard in a real headless Chromium (Debian's), driven by Playwright.

Screenshots of every step land in test-artifacts/dashboard/ (look at them).
"""

from __future__ import annotations

import io
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
import openpyxl
import playwright.sync_api as playwright
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import (
    add_chunk,
    add_device,
    add_dialogue,
    add_user,
    password_of,
    served_dashboard,
)
from google.api_core import exceptions as gexc
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

    def pending(topic: str) -> list[dict]:
        """What is on the topic now (one pull, nothing waited for)."""
        try:
            got = subscriber.pull(subscription=created[topic], max_messages=10, timeout=5)
        except gexc.DeadlineExceeded:
            return []
        return [json.loads(m.message.data) for m in got.received_messages]

    receive.subscribe = subscribe  # type: ignore[attr-defined]
    receive.pending = pending  # type: ignore[attr-defined]
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
    expect(page.locator(".kpis:not(.receipts)")).to_contain_text("50%")
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


def _hostile(field: str) -> str:
    """Markup that would set window.__xss_<field> and open a dialog if it ever ran."""
    return (
        f'<img src=x onerror="window.__xss_{field}=1;alert(1)">'
        f"<script>window.__xss_{field}=1</script>xss-{field}"
    )


def _nothing_ran(page, dialogs: list) -> None:
    page.wait_for_load_state("networkidle")  # a broken <img> would have failed by now
    ran = page.evaluate("() => Object.keys(window).filter(k => k.startsWith('__xss'))")
    assert ran == [] and dialogs == [], (page.url, ran, dialogs)


def _shown_as_text(page, field: str) -> None:
    """The payload is on screen as the characters it is made of, tags included."""
    shown = page.get_by_text(f"</script>xss-{field}").filter(visible=True)
    playwright.expect(shown.first).to_be_visible()


@pytest.fixture
def hostile(migrated_db: sa.Engine, fresh_db: str, stack_env: dict, tmp_path: Path):
    """A shop whose every outside value is markup: names, speech, the LLM, the device."""
    now = datetime.now(UTC)
    with migrated_db.begin() as conn:
        dev = add_device(conn, _hostile("point"), _hostile("register"))
        devices.record_health(conn, dev.device_id, {"queue_files": _hostile("health")})
        dialogue_id = add_dialogue(
            conn,
            dev,
            now - timedelta(hours=1),
            segments=[{"start": 0.0, "end": 3.0, "text": _hostile("transcript")}],
            analysis={
                "attempted": True,
                "accepted": True,
                "quality_score": 5,
                "offers": [
                    {"product": _hostile("product"), "quote": _hostile("quote"), "accepted": True}
                ],
                "summary": _hostile("summary"),
                "recommendation": _hostile("recommendation"),
                "analyzer": "llm",
                "model": _hostile("model"),
            },
        )
        add_chunk(conn, dev, "REJECTED", now - timedelta(hours=1), _hostile("error"))
        add_user(conn, _hostile("user"), "owner")
    with served_dashboard(fresh_db, stack_env, tmp_path / "dashboard.log") as base:
        yield base, dialogue_id


def test_markup_from_audio_the_llm_devices_and_users_never_runs(hostile, browser_page) -> None:
    """Stored XSS: <img onerror> and <script> in every outside value, on every page."""
    base, dialogue_id = hostile
    page, dialogs = browser_page, []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, base, _hostile("user"))
    expected = {
        "/": ["point", "register", "product", "user"],
        "/dialogues": ["point", "register", "summary"],
        f"/dialogue?id={dialogue_id}": [
            "point",
            "register",
            "transcript",
            "product",
            "quote",
            "summary",
            "recommendation",
            "model",
        ],
        "/devices": ["point", "register", "health"],
        "/pipeline": ["error"],
    }
    for path, fields in expected.items():
        page.goto(base + path)
        for field in fields:
            _shown_as_text(page, field)
        _nothing_ran(page, dialogs)
        name = path.strip("/").split("?")[0] or "overview"
        page.screenshot(path=ARTIFACTS / f"10-hostile-{name}.png", full_page=True)
    # The point picker lists the point by its name, as text.
    page.goto(base + "/dialogues")
    options = page.locator("select").filter(has_text=S.ALL).first.locator("option")
    playwright.expect(options).to_have_count(2)
    labels = options.all_inner_texts()
    assert _hostile("point") in labels
    _nothing_ran(page, dialogs)


@pytest.fixture
def other_point(shop: dict) -> dict:
    """A second point with its own dialogue, stuck work and device; a manager of the first."""
    old = datetime.now(UTC) - timedelta(hours=2)
    with shop["engine"].begin() as conn:
        other = add_device(conn, "Магазин у вокзала", "Касса 9")
        devices.record_health(conn, other.device_id, {"queue_files": 77})
        dialogue_id = add_dialogue(
            conn,
            other,
            datetime.now(UTC) - timedelta(hours=1),
            segments=[{"start": 0.0, "end": 3.0, "text": "Чужой разговор"}],
            analysis={
                "attempted": True,
                "quality_score": 7,
                "offers": [{"product": "чужой товар", "quote": "Возьмите", "accepted": False}],
                "summary": "Чужая сводка",
            },
        )
        add_chunk(conn, other, "REJECTED", old, "чужая ошибка")
        add_user(conn, "manager", "manager", [shop["device"].point_id])
    return {"dialogue": dialogue_id, "device": other}


def test_a_manager_sees_only_their_points_on_every_page(
    dashboard: str, browser_page, shop: dict, other_point: dict
) -> None:
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, "manager")
    mine = {
        "/": "Магазин на Ленина",
        "/dialogues": "Продавец предложил карту лояльности",
        f"/dialogue?id={shop['good']}": "Да, давайте карту.",
        "/devices": "queue_files=3",
        "/pipeline": S.CHUNKS,
    }
    theirs = ["Магазин у вокзала", "Касса 9", "чужой товар", "Чужая сводка", "чужая ошибка"]
    theirs += ["queue_files=77", S.DEAD_LETTERS, S.NEW_DEVICE]
    for path, marker in mine.items():
        page.goto(dashboard + path)
        expect(page.get_by_text(marker).filter(visible=True).first).to_be_visible()
        page.wait_for_load_state("networkidle")
        for text in theirs:
            expect(page.get_by_text(text)).to_have_count(0)
        name = path.strip("/").split("?")[0] or "overview"
        page.screenshot(path=ARTIFACTS / f"11-manager-{name}.png", full_page=True)
    # The other point's dialogue, asked for by its id, does not exist for this manager.
    page.goto(dashboard + f"/dialogue?id={other_point['dialogue']}")
    expect(page.get_by_text(S.NOT_FOUND)).to_be_visible()
    expect(page.get_by_text("Чужой разговор")).to_have_count(0)
    # Its point is not among the filter's choices either.
    page.goto(dashboard + "/")
    options = page.locator("select").filter(has_text=S.ALL).first.locator("option")
    expect(options).to_have_count(2)
    labels = options.all_inner_texts()
    assert labels == [S.ALL, "Магазин на Ленина"]
    # A manager acts on their own point: the re-run buttons are there.
    page.goto(dashboard + f"/dialogue?id={shop['good']}")
    expect(page.get_by_role("button", name=S.RERUN_ANALYSIS)).to_be_visible()


def test_a_viewer_reads_but_has_nothing_to_press(dashboard: str, browser_page, shop) -> None:
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, "viewer")
    page.goto(dashboard + f"/dialogue?id={shop['good']}")
    expect(page.get_by_text("Да, давайте карту.")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("button", name=S.RERUN_ANALYSIS)).to_have_count(0)
    expect(page.get_by_role("button", name=S.RERUN_ASR)).to_have_count(0)
    page.goto(dashboard + "/devices")
    expect(page.get_by_text("queue_files=3", exact=True)).to_be_visible()
    for control in (S.ENABLE, S.DISABLE, S.REGISTER_BUTTON):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "12-viewer-devices.png", full_page=True)


def _requests_login(base: str, name: str, password: str) -> requests.Session:
    """Another browser: a requests session logged in through the same form."""
    http = requests.Session()
    form = http.get(base + "/login", timeout=10)
    xsrf = form.cookies.get("_xsrf") or http.cookies.get("_xsrf")
    got = http.post(
        base + "/login",
        data={"_xsrf": xsrf, "username": name, "password": password, "next": "/"},
        timeout=30,
    )
    assert got.status_code == 200 and not got.url.endswith("/login"), got.text[:500]
    return http


def _logged_in(http: requests.Session, base: str) -> bool:
    return "/login" not in http.get(base + "/dialogues", timeout=30).url


def test_logout_and_a_password_change_end_sessions(
    dashboard: str, browser_page, shop: dict, listener
) -> None:
    page, expect = browser_page, playwright.expect
    elsewhere = _requests_login(dashboard, "owner", password_of("owner"))
    _login(page, dashboard, "owner")
    expect(page.get_by_text(S.KPI_ATTEMPT_RATE, exact=True)).to_be_visible()

    # A password change ends every other session of the user; this browser stays in.
    page.goto(dashboard + "/password")
    page.get_by_label(S.PASSWORD_CURRENT).fill(password_of("owner"))
    page.get_by_label(S.PASSWORD_NEW, exact=True).fill("a-new-long-password")
    page.get_by_label(S.PASSWORD_AGAIN).fill("a-new-long-password")
    page.get_by_role("button", name=S.PASSWORD_BUTTON).click()
    expect(page.get_by_text(S.PASSWORD_CHANGED)).to_be_visible()
    assert not _logged_in(elsewhere, dashboard)
    page.goto(dashboard + "/dialogues")
    expect(page.get_by_text(S.COLUMNS["summary"])).to_be_visible()

    # A page left open after its session ended can no longer publish anything.
    listener.subscribe("transcripts-ready")
    page.goto(dashboard + f"/dialogue?id={shop['good']}")
    expect(page.get_by_text("Да, давайте карту.")).to_be_visible()
    second = page.context.new_page()
    second.goto(dashboard + "/")
    second.get_by_role("button", name=S.LOGOUT).click()
    expect(second.get_by_text(S.LOGOUT_DONE)).to_be_visible()
    page.get_by_role("button", name=S.RERUN_ANALYSIS).click()
    expect(page.get_by_text(S.SESSION_ENDED).first).to_be_visible()
    assert listener.pending("transcripts-ready") == []
    page.screenshot(path=ARTIFACTS / "13-session-ended.png", full_page=True)

    # Logged out: every page sends the browser to the login form again.
    page.goto(dashboard + "/dialogues")
    assert "/login" in page.url
    again = _requests_login(dashboard, "owner", "a-new-long-password")
    assert _logged_in(again, dashboard)
    elsewhere.close()
    again.close()


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
        # A stretch of radio alone that assembly kept from becoming a dialogue.
        conn.execute(
            sa.text(
                "INSERT INTO assembly_spans (device_id, start_ms, end_ms, speech_ms, kind, "
                "closed_by) VALUES (:d, :s, :e, 2600, 'background', 'evidence')"
            ),
            {"d": dev.device_id, "s": start_ms + 40_000, "e": start_ms + 42_600},
        )
    return {"roles": roles, "first": first, "second": second, "engine": migrated_db}


def test_sellers_roles_and_dropped_background_speech_are_shown(
    dashboard: str, browser_page, stack_env: dict, rush: dict
) -> None:
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, "owner")

    # Overview: the sellers ranked like registers; "Продавец 2" upsold in both dialogues.
    expect(page.get_by_text(S.SELLER_RANKING, exact=False)).to_be_visible()
    ranking = page.locator("table.sc").filter(has_text=S.SELLER_DEFAULT.format(number=2))
    expect(ranking).to_have_count(1)
    rows = ranking.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(S.SELLER_DEFAULT.format(number=2))
    expect(rows.first).to_contain_text("100")
    expect(rows.nth(1)).to_contain_text(S.SELLER_DEFAULT.format(number=1))
    page.screenshot(path=ARTIFACTS / "08-seller-ranking.png", full_page=True)

    # Dialogue: each segment says who spoke, in that role's colour.
    page.goto(f"{dashboard}/dialogue?id={rush['roles']}")
    customer = page.locator(".tabulator-row").filter(has_text="А к нему есть чехол?")
    seller = page.locator(".tabulator-row").filter(has_text="Есть, на стойке справа.")
    expect(customer).to_contain_text(S.SPEAKER_ROLES["customer"])
    expect(seller).to_contain_text(S.SPEAKER_ROLES["seller"])
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
    row = page.locator("table.sc tr").filter(has_text="Кофейня у вокзала")
    expect(row).to_contain_text("10,1")  # 4.5 s + 3 s dropped by vad, 2.6 s by assembly
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
    expect(page.locator("table.sc tr").filter(has_text="Анна <b>")).to_contain_text("4")


def test_the_download_buttons_give_the_tables_with_the_pages_filters(
    dashboard: str, browser_page, shop: dict
) -> None:
    """CSV and Excel from the pages' own links: the filters on screen, the numbers shown."""
    page, expect = browser_page, playwright.expect
    _login(page, dashboard, "owner")
    page.get_by_role("link", name=S.NAV_DIALOGUES).click()
    search = page.get_by_placeholder(S.SEARCH_HINT)
    search.fill("лояльност")
    search.press("Enter")
    expect(page.get_by_text(S.PAGE.format(page=1, pages=1, total=1))).to_be_visible()
    with page.expect_download() as csv_download:
        page.get_by_role("link", name=S.EXPORT_CSV).click()
    saved = csv_download.value
    assert saved.suggested_filename.startswith("Диалоги ") and saved.suggested_filename.endswith(
        ".csv"
    )
    text = Path(saved.path()).read_bytes().decode("utf-8-sig")
    rows = [line.split(";") for line in text.strip().splitlines()]
    assert rows[0][0] == S.COLUMNS["started_at"] and len(rows) == 2  # the search applied
    assert rows[1][-1] == str(shop["good"]) and rows[1][1] == "Магазин на Ленина"
    assert "Оплата картой" not in text

    # The overview's ranking as Excel: the page's own figures (one attempt of two: 50%).
    page.get_by_role("link", name=S.NAV_OVERVIEW).click()
    expect(page.get_by_text(S.RANKING, exact=False)).to_be_visible()
    links = page.locator("a.export-xlsx[href*='ranking.xlsx']")
    with page.expect_download() as xlsx_download:
        links.click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes()))
    data = [tuple(r) for r in book[S.EXPORT_DATA].iter_rows(values_only=True)]
    assert data[0][:3] == (S.COLUMNS["point_name"], S.COLUMNS["register_name"], "Диалогов")
    assert data[1][:5] == ("Магазин на Ленина", "Касса 1", 2, 2, 50)
    filters = dict(r[:2] for r in book[S.EXPORT_FILTERS].iter_rows(values_only=True))
    assert filters[S.EXPORT_USER] == "owner" and filters[S.POINT] == S.ALL
    page.screenshot(path=ARTIFACTS / "14-downloads.png", full_page=True)
