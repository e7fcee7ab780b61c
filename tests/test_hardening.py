"""Issue 18 through the real stack: the audio bomb, poison work capped at MAX_ATTEMPTS,
erasing data (command, admin API, retention), the heartbeat rate limit and the chunk
verdict a device waits for."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import panel as pn
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import add_device, add_dialogue
from test_ingest import announcement
from test_vad_assemble import send, wait_for

from asr_service import jobs
from dashboard import queries, users
from dashboard import strings as S
from dashboard.pages.pipeline import pipeline_page
from devkit.soak import badaudio
from salescontrol import audio, erasure, messages, storage, sweeper
from salescontrol.db import transaction
from salescontrol.errors import GaveUp, TransientError
from salescontrol.messages import AsrRequest, TranscriptReady
from tests.asr_support import WorkerProcess, make_dialogue

UPLOAD, STATUS = "/api/v1/chunks/upload-url", "/api/v1/chunks/status"
ERASURES = "/api/v1/admin/erasures"
SALE = [
    {"start": 0.0, "end": 3.0, "text": "Здравствуйте, мне капучино, пожалуйста."},
    {"start": 3.0, "end": 6.0, "text": "Может, ещё круассан к кофе? Сегодня свежие."},
]
ANALYSIS = {
    "attempted": True,
    "quality_score": 7,
    "offers": [{"product": "круассан", "quote": "Может, ещё круассан", "accepted": True}],
    "summary": "Кофе и круассан",
}


def _chunk(engine: sa.Engine, chunk_id: str) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM audio_chunks WHERE chunk_id = :c"), {"c": chunk_id}
        ).one()


def _dialogue(engine: sa.Engine, dialogue_id: object) -> sa.Row | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT * FROM dialogues WHERE dialogue_id = :d"), {"d": dialogue_id}
        ).first()


def _final(engine: sa.Engine, chunk_id: str) -> sa.Row:
    return wait_for(
        f"chunk {chunk_id} DONE or REJECTED",
        lambda: (r := _chunk(engine, chunk_id)).status in ("DONE", "REJECTED") and r,
    )


def _set(engine: sa.Engine, table: str, key: str, value: object, **columns: object) -> None:
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE {table} SET {sets} WHERE {key} = :k"), {"k": value, **columns}
        )


def _opus(seconds: float) -> bytes:
    rng = np.random.default_rng(int(seconds * 1000))
    return audio.encode_opus((0.01 * rng.standard_normal(int(seconds * 16000))).astype("f4"))


# --- 1. the audio bomb ----------------------------------------------------------------


def test_the_audio_bomb_is_rejected_by_its_header(api, device, engine) -> None:
    bomb = badaudio.wav_bytes(1, bytes(4000))
    sent = send(api, device, datetime.now(UTC) - timedelta(hours=2), bomb, 10.0)
    row = _final(engine, sent.chunk_id)
    assert row.status == "REJECTED" and "sample rate 1 Hz is outside" in row.error
    assert row.verified is True  # the bytes are what the device sent: it may delete them


# --- 2. poison work -------------------------------------------------------------------


def test_a_chunk_that_fails_every_time_is_rejected_after_max_attempts(
    api, device, engine, stack_env
) -> None:
    """The poison's processing fails each time (a trigger refuses its result); after its
    fifth failed attempt it is REJECTED with the last error and never queued again."""
    data = _opus(5.0)
    expected = badaudio.Expected("REJECTED")
    poison = badaudio.BadChunk("poison", data, 5.0, 16000, expected, poison=True)
    badaudio.install_poison(stack_env["DATABASE_URL"], [poison])
    started = datetime.now(UTC) - timedelta(hours=3)
    body = {**announcement(), "started_at": started.isoformat(), "duration_sec": 5.0}
    body |= {"size_bytes": len(data), "sha256": poison.sha256}
    answer = api.call("POST", UPLOAD, token=device["token"], json=body).json()
    # Four deliveries already failed (the emulator's backoff would take minutes).
    _set(engine, "audio_chunks", "chunk_id", body["chunk_id"], attempts=4)
    upload = answer["upload"]
    assert requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30).ok
    row = _final(engine, body["chunk_id"])
    assert row.status == "REJECTED" and row.attempts == 5
    assert row.error.startswith("gave up after 5 attempts; last error: ")
    assert "poison chunk: its result is refused every time" in row.error
    _set(engine, "audio_chunks", "chunk_id", body["chunk_id"], updated_at=started)
    sweeper.sweep()
    assert _chunk(engine, body["chunk_id"]).status == "REJECTED"  # not owed: not re-queued


# Panel's Tabulator, built here in-process, calls a pandas API deprecated in pandas 3.1.
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_the_sweeper_gives_up_stuck_work_that_used_its_attempts(
    api, device, engine, stack_env, sweeper_alone
) -> None:
    """Work whose last delivery died (no error recorded) or dead-lettered, at MAX_ATTEMPTS:
    REJECTED / FAILED with the reason, shown on the pipeline page, not re-queued."""
    stale = datetime.now(UTC) - timedelta(hours=3)
    body = announcement()
    assert api.call("POST", UPLOAD, token=device["token"], json=body).status_code == 201
    _set(engine, "audio_chunks", "chunk_id", body["chunk_id"], status="PROCESSING", attempts=5)
    with engine.begin() as conn:
        dev = add_device(conn, "Hardening", "Касса 1")
        asr = add_dialogue(conn, dev, stale, asr_status="PROCESSING", asr_attempts=5)
        analysis = add_dialogue(
            conn,
            dev,
            stale,
            segments=SALE,
            analysis_status="PENDING",
            analysis_attempts=5,
            analysis_error="RateLimitError: 429 (will be retried)",
        )
        # Dead-lettered with attempts left: re-queued like the other stages, and finished.
        dead_lettered = add_dialogue(
            conn, dev, stale, segments=SALE, analysis_status="PENDING", analysis_attempts=2,
            analysis_error="RateLimitError: 429 (will be retried)",
        )  # fmt: skip
    for table, key, value in [
        ("audio_chunks", "chunk_id", body["chunk_id"]),
        ("dialogues", "dialogue_id", asr),
        ("dialogues", "dialogue_id", analysis),
        ("dialogues", "dialogue_id", dead_lettered),
    ]:
        _set(engine, table, key, value, updated_at=stale)
    result = sweeper.sweep()
    assert result.given_up >= 3 and result.analyses_requeued >= 1
    done = wait_for(
        "the re-queued analysis",
        lambda: (d := _dialogue(engine, dead_lettered)).analysis_status == "DONE" and d,
    )
    assert done.analysis_attempts == 3 and done.analysis_error is None
    chunk = _chunk(engine, body["chunk_id"])
    assert chunk.status == "REJECTED"
    assert (
        chunk.error
        == "gave up after 5 attempts; last error: none recorded (the process died mid-way?)"
    )
    assert _dialogue(engine, asr).asr_status == "FAILED"
    failed = _dialogue(engine, analysis)
    assert failed.analysis_status == "FAILED"
    assert failed.analysis_error.endswith("last error: RateLimitError: 429 (will be retried)")
    with engine.connect() as conn:
        shown = queries.pipeline(conn, 600, queries.EVERY_POINT, limit=500, max_attempts=5)
    given_up = {(g["stage"], str(g["id"])) for g in shown.given_up}
    assert {("vad", body["chunk_id"]), ("asr", str(asr)), ("analyze", str(analysis))} <= given_up
    # ... on the pipeline page itself, with the reason and the last error.
    owner = users.User(1, "owner", users.Role.OWNER, frozenset())  # in-process: no session
    column = pipeline_page(owner).main[0]
    # The page's tables are one HTML pane; the given-up table follows its heading.
    page = "\n".join(str(o.object) for o in column.objects if isinstance(o, pn.pane.HTML))
    heading = html.escape(S.GIVEN_UP.format(attempts=5))
    assert heading in page
    shown_text = page.split(heading, 1)[1].split("<h3", 1)[0]
    assert str(analysis) in shown_text and "RateLimitError: 429" in shown_text
    before = _dialogue(engine, asr).updated_at
    sweeper.sweep()  # final now: neither given up again nor re-queued
    assert _chunk(engine, body["chunk_id"]).updated_at == chunk.updated_at
    assert _dialogue(engine, asr).updated_at == before


def test_analysis_gives_up_at_max_attempts(engine, stack_env) -> None:
    """A fresh transcripts-ready for a dialogue that used its attempts: FAILED (the
    stack's analyze function), not analysed again."""
    with engine.begin() as conn:
        dev = add_device(conn, "Hardening", "Касса 2")
        analysis = add_dialogue(
            conn, dev, datetime.now(UTC), segments=SALE, analysis_attempts=5,
            analysis_error="APITimeoutError: timed out",
        )  # fmt: skip
    messages.publish(TranscriptReady(dialogue_id=str(analysis)))
    failed = wait_for(
        "analysis FAILED",
        lambda: (d := _dialogue(engine, analysis)).analysis_status == "FAILED" and d,
    )
    assert failed.analysis_error == (
        "gave up after 5 attempts; last error: APITimeoutError: timed out"
    )


def test_asr_counts_attempts_and_gives_up(engine, stack_env) -> None:
    """What the worker does with a dialogue its engine fails on every time: each failure
    is recorded (an outage gives the attempt back), the fifth is FAILED with the last
    error, and a request after that is refused before any work."""
    dialogue_id, object_name = make_dialogue(engine, _opus(2.0))
    request = AsrRequest(dialogue_id, object_name)
    reasons = []
    for attempt in range(5):
        with pytest.raises(AttributeError) as crash:  # no engine: it fails on this dialogue
            jobs.process(request, engine=None)
        if attempt == 1:  # an outage meanwhile is not the dialogue's fault
            assert jobs.failed(dialogue_id, TransientError("bucket down"), True) is None
            assert _dialogue(engine, dialogue_id).asr_attempts == 1
            with pytest.raises(AttributeError) as crash:
                jobs.process(request, engine=None)
        reasons.append(jobs.failed(dialogue_id, crash.value, False))
    assert reasons[:4] == [None] * 4
    row = _dialogue(engine, dialogue_id)
    assert row.asr_status == "FAILED" and row.asr_attempts == 5
    assert row.asr_error == reasons[4]
    assert reasons[4].startswith("gave up after 5 attempts; last error: AttributeError: ")
    with pytest.raises(GaveUp):
        jobs.process(request, engine=None)


@pytest.mark.slow
def test_the_asr_worker_fails_a_dialogue_that_used_its_attempts(
    stack, engine, stack_env, tmp_path
) -> None:
    dialogue_id, object_name = make_dialogue(engine, None)
    _set(engine, "dialogues", "dialogue_id", dialogue_id, asr_attempts=5, asr_error="OOM")
    with WorkerProcess(stack, tmp_path / "worker.log") as worker:
        messages.publish(AsrRequest(dialogue_id, object_name))
        row = wait_for(
            "ASR FAILED",
            lambda: (d := _dialogue(engine, dialogue_id)).asr_status == "FAILED" and d,
            120,
        )
        assert worker.stop() == 0
    assert row.asr_error == "gave up after 5 attempts; last error: OOM"


# --- 5. erasing data ------------------------------------------------------------------


def _cli(stack_env: dict, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "salescontrol", "erase", *args],
        env={**os.environ, **stack_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _recorded(api, device, engine, started: datetime) -> tuple[object, str, str]:
    """A dialogue with transcript, analysis and audio, over a chunk vad has processed:
    (dialogue id, its audio object, the chunk id)."""
    sent = send(api, device, started, _opus(20.0), 20.0)
    assert _final(engine, sent.chunk_id).status == "DONE"
    with engine.begin() as conn:
        dev = conn.execute(
            sa.text("SELECT * FROM devices WHERE device_id = :d"), {"d": device["device_id"]}
        ).one()
        dialogue_id = add_dialogue(conn, dev, started + timedelta(seconds=5), 10.0, SALE, ANALYSIS)
        audio_object = _dialogue_row(conn, dialogue_id).audio_object
    storage.bucket().blob(audio_object).upload_from_string(b"dialogue audio")
    return dialogue_id, audio_object, sent.chunk_id


def _dialogue_row(conn, dialogue_id):
    return conn.execute(
        sa.text("SELECT * FROM dialogues WHERE dialogue_id = :d"), {"d": dialogue_id}
    ).one()


def test_erase_a_dialogue_from_the_command_line(api, device, engine, stack_env) -> None:
    started = datetime.now(UTC) - timedelta(hours=4)
    dialogue_id, audio_object, chunk_id = _recorded(api, device, engine, started)
    chunk_object = _chunk(engine, chunk_id).object_name
    done = _cli(stack_env, "--dialogue", str(dialogue_id), "--by", "privacy officer #12")
    assert done["status"] == "DONE" and done["requested_by"] == "privacy officer #12"
    assert done["counts"] == {
        "dialogues": 1,
        "dialogue_transcripts": 1,
        "dialogue_upsell_analysis": 1,
        "dialogue_objects": 1,
        "chunks": 1,
        "chunk_objects": 1,
        "speech_segments": done["counts"]["speech_segments"],
    }
    assert _dialogue(engine, dialogue_id) is None
    assert storage.bucket().get_blob(audio_object) is None
    assert storage.bucket().get_blob(chunk_object) is None
    tombstone = _chunk(engine, chunk_id)
    assert tombstone.erased_at is not None and tombstone.status == "DONE"
    with engine.connect() as conn:  # the voices heard in it go with it (issue 20's tables)
        left = [
            conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE chunk_id = :c"), {"c": chunk_id}
            ).scalar_one()
            for table in ("speech_segments", "speech_windows", "background_speech")
        ]
    assert left == [0, 0, 0]
    # Idempotent: the same command again finds the same erasure and removes nothing more.
    again = _cli(stack_env, "--dialogue", str(dialogue_id))
    assert again["erasure_id"] == done["erasure_id"] and again["counts"] == done["counts"]
    # A device announcing the erased chunk again is told to delete its copy.
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM audio_chunks WHERE chunk_id = :c"), {"c": chunk_id}
        ).one()
    body = {
        "chunk_id": chunk_id,
        "started_at": row.started_at.isoformat(),
        "duration_sec": row.duration_sec,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "codec": row.codec,
    }
    answer = api.call("POST", UPLOAD, token=device["token"], json=body).json()
    assert answer["already_uploaded"] is True and answer["action"] == "delete"


def test_an_interrupted_erasure_is_resumed(api, device, engine, stack_env, monkeypatch) -> None:
    """Stopped after one batch, and mid-way through the next (its object deleted, its
    rows not): the same command goes on with the same erasure and finishes it."""
    started = datetime.now(UTC) - timedelta(hours=6)
    made = [_recorded(api, device, engine, started + timedelta(minutes=k)) for k in range(3)]
    monkeypatch.setattr(erasure, "BATCH", 1)
    scope = erasure.Scope(
        erasure.DEVICE, None, uuid.UUID(device["device_id"]), started, started + timedelta(hours=1)
    )
    with transaction() as conn:
        job = erasure.request(conn, scope, "test", None)
    first = erasure.run(job["erasure_id"], max_batches=1)
    assert first["status"] == "PENDING" and first["counts"]["dialogues"] == 1
    remaining = [m for m in made if _dialogue(engine, m[0]) is not None]
    storage.bucket().blob(remaining[0][1]).delete()  # the crash came after this object
    done = _cli(
        stack_env,
        "--device",
        device["device_id"],
        "--from",
        started.isoformat(),
        "--to",
        (started + timedelta(hours=1)).isoformat(),
    )
    assert done["erasure_id"] == str(job["erasure_id"]) and done["status"] == "DONE"
    assert done["counts"]["dialogues"] == 3 and done["counts"]["chunks"] == 3
    assert done["counts"]["dialogue_objects"] == 2  # one was gone already: no error
    assert all(_dialogue(engine, m[0]) is None for m in made)
    assert all(_chunk(engine, m[2]).erased_at is not None for m in made)


def test_the_admin_api_asks_the_sweeper_to_erase(api, device, engine, stack_env) -> None:
    started = datetime.now(UTC) - timedelta(hours=8)
    dialogue_id, _, chunk_id = _recorded(api, device, engine, started)
    erasure_id = str(uuid.uuid4())
    ask = {
        "erasure_id": erasure_id,
        "device_id": device["device_id"],
        "from_at": (started - timedelta(minutes=1)).isoformat(),
        "to_at": (started + timedelta(minutes=5)).isoformat(),
        "requested_by": "DPO, ticket 7",
        "reason": "customer asked (152-ФЗ)",
    }
    assert api.call("POST", ERASURES, token=device["token"], json=ask).status_code == 403
    first = api.admin("POST", ERASURES, json=ask)
    assert first.status_code == 202 and first.json()["status"] == "PENDING"
    assert api.admin("POST", ERASURES, json=ask).status_code == 200  # idempotent
    other = api.admin("POST", ERASURES, json={**ask, "to_at": datetime.now(UTC).isoformat()})
    assert other.status_code == 409 and other.json()["field"] == "erasure_id"
    both = api.admin("POST", ERASURES, json={**ask, "before": datetime.now(UTC).isoformat()})
    assert both.status_code == 400
    sweeper.sweep()
    done = api.admin("GET", f"{ERASURES}/{erasure_id}").json()
    assert done["status"] == "DONE" and done["counts"]["dialogues"] == 1
    assert done["requested_by"] == "DPO, ticket 7" and done["finished_at"]
    assert _dialogue(engine, dialogue_id) is None and _chunk(engine, chunk_id).erased_at
    log = api.admin("GET", ERASURES).json()["erasures"]
    assert erasure_id in {e["erasure_id"] for e in log}
    assert api.admin("GET", f"{ERASURES}/{uuid.uuid4()}").status_code == 404


def test_the_sweeper_applies_the_transcript_retention(engine, stack_env, sweeper_alone) -> None:
    old = datetime.now(UTC) - timedelta(days=200)  # TRANSCRIPT_RETENTION_DAYS is 180
    with engine.begin() as conn:
        dev = add_device(conn, "Hardening", "Касса 3")
        expired = add_dialogue(conn, dev, old, segments=SALE, analysis=ANALYSIS)
        kept = add_dialogue(conn, dev, datetime.now(UTC), segments=SALE, analysis=ANALYSIS)
    assert sweeper.sweep().erased >= 1
    with engine.connect() as conn:
        texts = dict(
            conn.execute(sa.text("SELECT dialogue_id, text FROM dialogue_transcripts")).all()
        )
        verdicts = {
            r.dialogue_id: r
            for r in conn.execute(sa.text("SELECT * FROM dialogue_upsell_analysis")).all()
        }
        logged = conn.execute(
            sa.text("SELECT * FROM erasures WHERE scope = 'retention' ORDER BY requested_at DESC")
        ).first()
    assert expired not in texts and kept in texts
    scrubbed = verdicts[expired]
    assert scrubbed.attempted is True and scrubbed.quality_score == 7  # statistics stay
    assert scrubbed.summary is None and scrubbed.result is None
    assert scrubbed.offers == [{"product": "круассан", "accepted": True}]
    assert verdicts[kept].summary == "Кофе и круассан"
    assert logged.requested_by == "sweeper (TRANSCRIPT_RETENTION_DAYS=180)"
    assert logged.counts["dialogue_transcripts"] >= 1


# --- 6. smaller ones ------------------------------------------------------------------


def test_heartbeats_are_rate_limited(api, device, engine) -> None:
    other = api.register()
    with engine.begin() as conn:  # as if the device had just spent its whole burst
        conn.execute(
            sa.text(
                "INSERT INTO heartbeat_rate_buckets (device_id, tokens, updated_at) "
                "VALUES (:d, 0, clock_timestamp())"
            ),
            {"d": device["device_id"]},
        )
    beat = {"status": "ok"}
    refused = api.call("POST", "/api/v1/devices/heartbeat", token=device["token"], json=beat)
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10  # 6 a minute: one every 10 s
    ok = api.call("POST", "/api/v1/devices/heartbeat", token=other["token"], json=beat)
    assert ok.status_code == 200
    # Its own bucket: chunks still go up.
    assert api.call("POST", UPLOAD, token=device["token"], json=announcement()).status_code == 201


def test_chunk_status_answers_the_device_about_its_own_chunks_only(api, device, engine) -> None:
    other = api.register()
    data = _opus(5.0)
    sent = send(api, device, datetime.now(UTC) - timedelta(hours=10), data, 5.0)
    stranger = str(uuid.uuid4())
    ask = {"chunk_ids": [sent.chunk_id, stranger]}
    theirs = api.call("POST", STATUS, token=other["token"], json=ask)
    assert theirs.status_code == 200
    assert [c["status"] for c in theirs.json()["chunks"]] == [None, None]
    assert sent.object_name not in theirs.text and device["device_id"] not in theirs.text
    assert _final(engine, sent.chunk_id).status == "DONE"
    mine = api.call("POST", STATUS, token=device["token"], json=ask).json()["chunks"]
    assert mine[0] == {
        "chunk_id": sent.chunk_id,
        "status": "DONE",
        "verified": True,
        "action": "delete",
        "error": None,
    }
    assert mine[1] == {"chunk_id": stranger, "status": None, "action": "resend"}
    too_many = {"chunk_ids": [str(uuid.uuid4()) for _ in range(101)]}
    assert api.call("POST", STATUS, token=device["token"], json=too_many).status_code == 400
