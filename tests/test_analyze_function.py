"""The analyze function: end to end through the emulator, and in-process with a fake LLM."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import functions_framework
import pytest
import sqlalchemy as sa
from llm_server import FakeLLM

from devkit.waiting import poll_until
from salescontrol import config, db, messages
from salescontrol.analysis import rules
from salescontrol.dialogues import ANALYSIS_FINISHED

SOURCE = Path(__file__).resolve().parent.parent / "functions" / "analyze" / "main.py"
UPSELL = (
    "здравствуйте мне вот эти наушники. к ним может быть чехол возьмете защитит от царапин. "
    "да давайте. с вас 5990 рублей. номер для бонусов 8 916 123-45-67"
)
NO_UPSELL = "хлеб и молоко. пакет нужен? нет спасибо. с вас 112 рублей. оплата картой? да"


def make_dialogue(engine: sa.Engine, device: dict, text: str | None) -> str:
    """A dialogue row of `device`, with a transcript unless `text` is None."""
    dialogue_id = str(uuid.uuid4())
    start_ms = int(time.time() * 1000)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dialogues (dialogue_id, device_id, point_id, register_id, start_ms,"
                " end_ms, started_at, ended_at, speech_sec, asr_status) VALUES (:d, :dev, :p,"
                " :r, :s, :e, to_timestamp(:s / 1000.0), to_timestamp(:e / 1000.0), 20, 'DONE')"
            ),
            {
                "d": dialogue_id,
                "dev": device["device_id"],
                "p": device["point_id"],
                "r": device["register_id"],
                "s": start_ms,
                "e": start_ms + 30_000,
            },
        )
        if text is not None:
            conn.execute(
                sa.text("INSERT INTO dialogue_transcripts (dialogue_id, text) VALUES (:d, :t)"),
                {"d": dialogue_id, "t": text},
            )
    return dialogue_id


def status(engine: sa.Engine, dialogue_id: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT analysis_status, analysis_error FROM dialogues WHERE dialogue_id = :d"
                ),
                {"d": dialogue_id},
            ).one()
        )


def analysis(engine: sa.Engine, dialogue_id: str) -> sa.Row | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM dialogue_upsell_analysis WHERE dialogue_id = :d"),
            {"d": dialogue_id},
        ).one_or_none()


def wait_finished(engine: sa.Engine, dialogue_id: str, timeout: float = 60.0) -> str:
    def finished() -> str | None:
        state, _ = status(engine, dialogue_id)
        return state if state in ANALYSIS_FINISHED else None

    return poll_until(finished, timeout, message=f"dialogue {dialogue_id} to finish")


def wait_for(engine: sa.Engine, dialogue_id: str, check, timeout: float = 60.0) -> sa.Row:
    def matched() -> sa.Row | None:
        row = analysis(engine, dialogue_id)
        return row if row is not None and check(row) else None

    return poll_until(matched, timeout, message=f"the analysis of {dialogue_id} to match")


# --- end to end: publish on transcripts-ready, the stack's analyze function (rules) -----


def test_published_transcript_is_analysed_by_the_stack(stack_env, engine, device) -> None:
    dialogue_id = make_dialogue(engine, device, UPSELL)
    messages.publish(messages.TranscriptReady(dialogue_id))
    assert wait_finished(engine, dialogue_id) == "DONE"
    row = analysis(engine, dialogue_id)
    assert (row.analyzer, row.attempted, row.accepted, row.is_sales_dialogue) == (
        "rules",
        True,
        True,
        True,
    )
    assert row.offers[0]["product"].startswith("чехол")
    assert row.result["upsell_attempted"] is True and row.prompt_version == rules.VERSION
    assert 0 < row.quality_score <= 10 and row.summary and row.recommendation
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT text FROM dialogue_transcripts WHERE dialogue_id = :d"),
            {"d": dialogue_id},
        ).scalar_one()
    assert stored == UPSELL  # the stored transcript keeps what was said


def test_forced_reanalysis_replaces_the_verdict(stack_env, engine, device) -> None:
    dialogue_id = make_dialogue(engine, device, UPSELL)
    messages.publish(messages.TranscriptReady(dialogue_id))
    wait_for(engine, dialogue_id, lambda row: row.attempted)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE dialogue_transcripts SET text = :t WHERE dialogue_id = :d"),
            {"d": dialogue_id, "t": NO_UPSELL},
        )
    messages.publish(messages.TranscriptReady(dialogue_id, force=True))
    row = wait_for(engine, dialogue_id, lambda row: not row.attempted)
    assert row.offers == [] and status(engine, dialogue_id) == ("DONE", None)


def test_too_short_transcript_is_skipped_with_the_reason(stack_env, engine, device) -> None:
    dialogue_id = make_dialogue(engine, device, "да спасибо")
    messages.publish(messages.TranscriptReady(dialogue_id))
    assert wait_finished(engine, dialogue_id) == "SKIPPED"
    assert "too short: 2 words" in status(engine, dialogue_id)[1]
    assert analysis(engine, dialogue_id) is None


# --- in process, the way functions-framework calls it, against a fake LLM -----------


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


@pytest.fixture
def deliver(stack_env, fake, monkeypatch):
    """POST a Pub/Sub push envelope to the analyze function with the LLM configured."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_BACKOFF_SEC", "0.01")
    app = functions_framework.create_app("analyze", str(SOURCE))
    assert sys.modules["main"].__file__ == str(SOURCE)
    client = app.test_client()

    def send(payload: dict) -> int:
        envelope = {
            "subscription": "projects/p/subscriptions/analyze",
            "message": {
                "data": base64.b64encode(json.dumps(payload).encode()).decode(),
                "messageId": str(uuid.uuid4()),
                "publishTime": "2026-11-25T02:06:23Z",
            },
        }
        return client.post("/", json=envelope).status_code

    return send


def test_llm_verdict_is_stored_with_tokens_cost_and_prompt_version(
    deliver, fake, engine, device
) -> None:
    dialogue_id = make_dialogue(engine, device, UPSELL)
    assert deliver({"dialogue_id": dialogue_id}) == 200
    assert status(engine, dialogue_id) == ("DONE", None)
    row = analysis(engine, dialogue_id)
    assert (row.analyzer, row.model, row.prompt_version) == ("llm", "gpt-4o-mini", "upsell_v2")
    assert (row.needs_review, row.review_reason) == (False, None)  # the rules agree
    assert (row.prompt_tokens, row.completion_tokens) == (900, 120)
    assert float(row.cost_usd) == pytest.approx(900 * 0.15e-6 + 120 * 0.60e-6)
    assert row.quality_score == 8 and row.offers[0]["product"] == "чехол"
    sent = json.dumps(fake.requests[0].body, ensure_ascii=False)
    assert "123-45-67" not in sent and "[PHONE]" in sent


def test_a_verdict_the_rules_disagree_with_is_stored_for_review(
    deliver, fake, engine, device
) -> None:
    staff = "слушай, к ним может быть чехол возьмете, спросишь у него? давай, сейчас спрошу"
    dialogue_id = make_dialogue(engine, device, staff)
    assert deliver({"dialogue_id": dialogue_id}) == 200
    row = analysis(engine, dialogue_id)
    assert row.attempted is True and row.needs_review is True
    assert "по правилам допродажи не было" in row.review_reason


def test_a_refused_request_format_waits_for_the_configuration_acknowledged(
    deliver, fake, engine, device, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_RESPONSE_FORMAT", "json_schema")
    config.settings.cache_clear()  # the function read its settings when it was loaded
    fake.formats = frozenset({"json_object", "text"})
    dialogue_id = make_dialogue(engine, device, UPSELL)
    assert deliver({"dialogue_id": dialogue_id}) == 200  # no redelivery storm
    state, reason = status(engine, dialogue_id)
    assert state == "PENDING" and reason.startswith("configuration error:")
    assert "OPENAI_RESPONSE_FORMAT" in reason and len(fake.requests) == 1


def test_duplicate_delivery_does_nothing_and_force_reruns(deliver, fake, engine, device) -> None:
    dialogue_id = make_dialogue(engine, device, UPSELL)
    assert deliver({"dialogue_id": dialogue_id}) == 200
    first = analysis(engine, dialogue_id)
    assert deliver({"dialogue_id": dialogue_id}) == 200
    assert len(fake.requests) == 1 and analysis(engine, dialogue_id) == first
    assert deliver({"dialogue_id": dialogue_id, "force": True}) == 200
    assert len(fake.requests) == 2
    assert analysis(engine, dialogue_id).updated_at > first.updated_at


def test_malformed_answers_end_failed_and_acknowledged(deliver, fake, engine, device) -> None:
    fake.script = ["malformed"]
    dialogue_id = make_dialogue(engine, device, UPSELL)
    assert deliver({"dialogue_id": dialogue_id}) == 200
    state, reason = status(engine, dialogue_id)
    assert state == "FAILED" and "malformed answer" in reason and "after 3 attempts" in reason
    assert analysis(engine, dialogue_id) is None
    assert deliver({"dialogue_id": dialogue_id}) == 200  # a duplicate: nothing is asked again
    assert len(fake.requests) == 3


def test_rate_limit_is_redelivered_then_succeeds(deliver, fake, engine, device) -> None:
    fake.script = ["429", "429", "429", "good"]
    dialogue_id = make_dialogue(engine, device, UPSELL)
    assert deliver({"dialogue_id": dialogue_id}) == 500  # Pub/Sub redelivers
    state, reason = status(engine, dialogue_id)
    assert state == "PENDING" and "RateLimitError" in reason and "will be retried" in reason
    assert deliver({"dialogue_id": dialogue_id}) == 200
    assert status(engine, dialogue_id) == ("DONE", None)


def test_a_delivery_works_on_one_connection_as_in_the_cloud(
    deliver, fake, engine, device, monkeypatch
) -> None:
    """Terraform gives each function instance a pool of one connection (DB_POOL_SIZE=1,
    DB_MAX_OVERFLOW=0): the analysis, its lock and its writes share it."""
    monkeypatch.setenv("DB_POOL_SIZE", "1")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    config.settings.cache_clear()
    db.dispose_engines()
    try:
        dialogue_id = make_dialogue(engine, device, UPSELL)
        assert deliver({"dialogue_id": dialogue_id}) == 200
        assert status(engine, dialogue_id) == ("DONE", None)
        pool = db.engine().pool
        assert (pool.size(), pool.checkedout()) == (1, 0)
    finally:
        db.dispose_engines()
        engine.dispose()  # forgotten by dispose_engines but used since: close its pool too


def test_a_duplicate_of_a_live_analysis_is_acknowledged_without_work(
    deliver, fake, engine, device
) -> None:
    fake.script, fake.slow_sec = ["slow"], 3.0
    dialogue_id = make_dialogue(engine, device, UPSELL)
    with ThreadPoolExecutor(1) as pool:
        live = pool.submit(deliver, {"dialogue_id": dialogue_id})
        poll_until(lambda: fake.requests, 30, 0.05, "the LLM to be asked")  # it is answering
        assert status(engine, dialogue_id)[0] == "PROCESSING"
        assert deliver({"dialogue_id": dialogue_id}) == 200  # the live one answers for it
        assert deliver({"dialogue_id": dialogue_id, "force": True}) == 500  # forced: later
        assert live.result() == 200
    assert status(engine, dialogue_id) == ("DONE", None) and len(fake.requests) == 1


# A delivery that took the dialogue and was then SIGKILLed: a process of its own.
DYING_DELIVERY = """
import sys, time, uuid
from salescontrol.analysis import store
dialogue_id = uuid.UUID(sys.argv[1])
with store.analysis_lock(dialogue_id) as conn:
    with conn.begin():
        assert store.claim(conn, dialogue_id, False).claimed
    print("claimed", flush=True)
    time.sleep(600)
"""


def test_an_analysis_whose_delivery_died_is_taken_over_at_once(
    deliver, fake, engine, device, stack_env
) -> None:
    dialogue_id = make_dialogue(engine, device, UPSELL)
    url = stack_env["DATABASE_URL"] + "?application_name=dying-analysis"
    dying = subprocess.Popen(
        [sys.executable, "-c", DYING_DELIVERY, dialogue_id],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert dying.stdout.readline().strip() == "claimed"
        assert status(engine, dialogue_id)[0] == "PROCESSING"
        assert deliver({"dialogue_id": dialogue_id}) == 200  # alive: it answers for it
        assert fake.requests == []
    finally:
        dying.kill()
        dying.wait()
        dying.stdout.close()
    with engine.connect() as conn:  # Postgres ends its sessions on their sockets' EOF
        gone = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dying-analysis'"
        poll_until(lambda: not conn.execute(sa.text(gone)).scalar(), 30, 0.05, "the session end")
    assert status(engine, dialogue_id)[0] == "PROCESSING"  # left as it died
    assert deliver({"dialogue_id": dialogue_id}) == 200  # its redelivery, seconds later
    assert status(engine, dialogue_id) == ("DONE", None) and len(fake.requests) == 1


@pytest.mark.parametrize(
    "payload",
    [{"dialogue_id": "not-a-uuid"}, {"dialogue_id": str(uuid.uuid4())}, {"force": True}],
    ids=["bad-uuid", "unknown-dialogue", "no-dialogue-id"],
)
def test_bad_payloads_are_acknowledged_without_work(deliver, fake, payload) -> None:
    assert deliver(payload) == 200
    assert fake.requests == []


def test_dialogue_without_transcript_fails_with_the_reason(deliver, engine, device) -> None:
    dialogue_id = make_dialogue(engine, device, None)
    assert deliver({"dialogue_id": dialogue_id}) == 200
    assert status(engine, dialogue_id) == ("FAILED", "no transcript stored for this dialogue")
