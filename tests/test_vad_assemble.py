"""Chunks through the real stack: upload -> vad -> assemble -> dialogues + audio + ASR request.

Real Russian speech (festival) over shop noise, cut into chunks, uploaded through the
ingest API's signed URLs; the vad and assemble functions run under functions-framework
behind the emulator's push subscriptions.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import requests
import soundfile as sf
import sqlalchemy as sa

from devkit import scene
from devkit.waiting import poll_until
from salescontrol import audio, config, messages, pubsub, storage, sweeper
from salescontrol.config import load
from salescontrol.events import OBJECT_FINALIZE, StorageObject
from tests.pubsub_kit import bodies, watch

UPLOAD = "/api/v1/chunks/upload-url"
CHUNK_SEC = 20
DEADLINE_SEC = 90.0


def wait_for(what: str, probe: Callable[[], Any], deadline_sec: float = DEADLINE_SEC) -> Any:
    """Poll `probe` until it returns something truthy, or fail naming `what`."""
    return poll_until(probe, deadline_sec, 0.25, what)


@dataclass(frozen=True)
class Sent:
    chunk_id: str
    object_name: str
    started_at: datetime


def send(
    api, device: dict, started: datetime, data: bytes, duration: float, body: bytes | None = None
) -> Sent:
    """Announce `data` as a chunk and PUT `body` (default: `data`) to its signed URL."""
    announce = {
        "chunk_id": str(uuid.uuid4()),
        "started_at": started.isoformat(),
        "duration_sec": duration,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "codec": "wav" if data[:4] == b"RIFF" else "opus",
    }
    response = api.call("POST", UPLOAD, token=device["token"], json=announce)
    assert response.status_code == 201, response.text
    upload = response.json()["upload"]
    put = requests.put(
        upload["url"], data=data if body is None else body, headers=upload["headers"], timeout=30
    )
    assert put.status_code == 200, put.text
    return Sent(announce["chunk_id"], response.json()["object_name"], started)


def opus_chunks(recording: np.ndarray, seconds: int = CHUNK_SEC) -> list[tuple[bytes, float]]:
    step = seconds * audio.RATE
    return [
        (audio.encode_opus(recording[i : i + step]), len(recording[i : i + step]) / audio.RATE)
        for i in range(0, len(recording), step)
    ]


def send_recording(api, device, base, chunks, indexes) -> list[Sent]:
    return [send(api, device, base + timedelta(seconds=k * CHUNK_SEC), *chunks[k]) for k in indexes]


def chunk_state(engine, chunk_id: str) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, error FROM audio_chunks WHERE chunk_id = :c"), {"c": chunk_id}
        ).one()
    return row.status, row.error


def wait_done(engine, sent: list[Sent]) -> None:
    for s in sent:
        status = wait_for(
            f"chunk {s.chunk_id} processed",
            lambda s=s: (st := chunk_state(engine, s.chunk_id)[0]) in ("DONE", "REJECTED") and st,
        )
        assert status == "DONE", chunk_state(engine, s.chunk_id)


def dialogues(engine, device_id: str, base: datetime) -> list[dict]:
    """The device's dialogues with times relative to `base` (seconds)."""
    base_ms = round(base.timestamp() * 1000)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT d.*, v.point_id AS dev_point, v.register_id AS dev_register "
                "FROM dialogues d JOIN devices v USING (device_id) "
                "WHERE d.device_id = :d ORDER BY start_ms"
            ),
            {"d": device_id},
        ).all()
    return [
        {
            "start": (r.start_ms - base_ms) / 1000,
            "end": (r.end_ms - base_ms) / 1000,
            "speech_sec": r.speech_sec,
            "asr_status": r.asr_status,
            "audio_object": r.audio_object,
            "dialogue_id": str(r.dialogue_id),
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "point_ok": r.point_id == r.dev_point and r.register_id == r.dev_register,
        }
        for r in rows
    ]


def shape(rows: list[dict]) -> list[tuple]:
    """What must be identical between two devices given the same audio."""
    return [(r["start"], r["end"], r["speech_sec"], r["asr_status"]) for r in rows]


def pcm_digest(object_name: str) -> str:
    data = storage.bucket().blob(object_name).download_as_bytes()
    return hashlib.sha256(audio.decode(data).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def two_dialogues() -> tuple[scene.Scene, list[tuple[bytes, float]]]:
    """~80 s of shop noise: dialogue A in the first chunk, B across three 20 s chunks."""
    rec = scene.layout(120.0, [(3.0, 3), (36.0, 7)], seed=5)
    a, b = rec.dialogues
    assert a[1] < 20 and b[0] < 40 and b[1] > 60
    total = int(np.ceil((b[1] + 13) / CHUNK_SEC)) * CHUNK_SEC
    assert total <= 120
    rec.audio = rec.audio[: total * audio.RATE]
    return rec, opus_chunks(rec.audio)


def _base() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def test_dialogues_come_out_with_their_boundaries_audio_and_asr_request(
    api, device, engine, stack_env, two_dialogues
) -> None:
    rec, chunks = two_dialogues
    base = _base()
    sent = send_recording(api, device, base, chunks, range(len(chunks)))
    wait_done(engine, sent)
    rows = wait_for(
        "two dialogues", lambda: len(d := dialogues(engine, device["device_id"], base)) == 2 and d
    )
    for row, (start, end) in zip(rows, rec.dialogues, strict=True):
        assert abs(row["start"] - start) <= 1.0 and abs(row["end"] - end) <= 1.0
        assert row["asr_status"] == "QUEUED" and row["point_ok"]
        assert row["ended_at"] - row["started_at"] == timedelta(seconds=row["end"] - row["start"])
        assert 0 < row["speech_sec"] <= row["end"] - row["start"]
        expected_id = uuid.uuid5(
            uuid.UUID(device["device_id"]),
            str(round(base.timestamp() * 1000 + row["start"] * 1000)),
        )
        assert row["dialogue_id"] == str(expected_id)
        assert row["audio_object"] == (
            f"dialogues/{device['device_id']}/{row['started_at']:%Y/%m/%d}/{expected_id}.ogg"
        )
        clip = audio.decode(storage.bucket().blob(row["audio_object"]).download_as_bytes())
        # The cut audio spans the dialogue plus a little padding, and holds speech.
        assert abs(len(clip) / audio.RATE - (row["end"] - row["start"])) < 1.0
        assert np.sqrt(np.mean(clip**2)) > 0.02
    # B spans three chunks and is still one dialogue.
    assert rows[1]["start"] < 40 and rows[1]["end"] > 60


def test_shuffled_and_duplicated_delivery_gives_identical_dialogues_and_bucket(
    api, engine, stack_env, two_dialogues
) -> None:
    _, chunks = two_dialogues
    base = _base()
    in_order, shuffled = api.register(), api.register()
    wait_done(engine, send_recording(api, in_order, base, chunks, range(len(chunks))))
    expected = wait_for(
        "in-order dialogues",
        lambda: len(d := dialogues(engine, in_order["device_id"], base)) == 2 and d,
    )

    order = list(range(len(chunks)))
    random.Random(7).shuffle(order)
    sent = send_recording(api, shuffled, base, chunks, order)
    # Every message a second time: the bucket notification and the chunk-vad-done.
    for s in sent:
        blob = storage.bucket().get_blob(s.object_name)
        notice = StorageObject(
            OBJECT_FINALIZE, blob.bucket.name, blob.name, blob.generation, blob.size
        )
        payload, attributes = notice.notification()
        pubsub.publish("chunk-uploaded", payload, **attributes)
    wait_done(engine, sent)
    for s in sent:
        start_ms = round(s.started_at.timestamp() * 1000)
        messages.publish(
            messages.ChunkVadDone(s.chunk_id, shuffled["device_id"], start_ms, start_ms + 20_000)
        )

    def same() -> list[dict] | None:
        got = dialogues(engine, shuffled["device_id"], base)
        return got if shape(got) == shape(expected) else None

    got = wait_for("identical dialogues", same)
    # Still identical once the duplicates have surely been handled.
    wait_for(
        "late duplicates handled",
        lambda: all(chunk_state(engine, s.chunk_id)[0] == "DONE" for s in sent),
    )
    assert shape(dialogues(engine, shuffled["device_id"], base)) == shape(expected)
    for a, b in zip(expected, got, strict=True):
        assert pcm_digest(a["audio_object"]) == pcm_digest(b["audio_object"])
    for dev in (in_order, shuffled):
        names = [
            b.name for b in storage.bucket().list_blobs(prefix=f"dialogues/{dev['device_id']}/")
        ]
        assert sorted(names) == sorted(
            r["audio_object"] for r in (expected if dev is in_order else got)
        )


def test_a_chunk_arriving_an_hour_late_completes_the_dialogue(
    api, device, engine, stack_env, two_dialogues
) -> None:
    rec, chunks = two_dialogues
    base = _base()
    late = 2  # the middle of dialogue B
    wait_done(
        engine,
        send_recording(api, device, base, chunks, [k for k in range(len(chunks)) if k != late]),
    )
    # The device goes on recording for an hour (noise only) before the chunk turns up.
    noise = audio.encode_opus(scene.synth.shop_noise(CHUNK_SEC, level_db=-35.0, seed=9))
    wait_done(engine, [send(api, device, base + timedelta(hours=1), noise, CHUNK_SEC)])
    rows = wait_for("dialogue A", lambda: dialogues(engine, device["device_id"], base))
    assert len(rows) == 1 and abs(rows[0]["start"] - rec.dialogues[0][0]) <= 1.0

    wait_done(engine, send_recording(api, device, base, chunks, [late]))
    rows = wait_for(
        "dialogue B", lambda: len(d := dialogues(engine, device["device_id"], base)) == 2 and d
    )
    start, end = rec.dialogues[1]
    assert abs(rows[1]["start"] - start) <= 1.0 and abs(rows[1]["end"] - end) <= 1.0


def test_the_sweeper_closes_the_dialogue_of_a_device_that_stopped(
    api, device, engine, stack_env, stack, two_dialogues
) -> None:
    rec, chunks = two_dialogues
    base = _base()
    wait_done(engine, send_recording(api, device, base, chunks, [0, 1]))  # stops at 40 s, mid-B
    wait_for("dialogue A", lambda: dialogues(engine, device["device_id"], base))
    assert len(dialogues(engine, device["device_id"], base)) == 1

    later = datetime.now(UTC) + timedelta(seconds=load({}).sweep_delay_sec + 5)
    result = sweeper.sweep(now=later)
    assert result.devices_closed >= 1
    rows = dialogues(engine, device["device_id"], base)
    assert len(rows) == 2
    assert abs(rows[1]["start"] - rec.dialogues[1][0]) <= 1.0
    assert 38.0 <= rows[1]["end"] <= 40.0
    assert rows[1]["asr_status"] == "QUEUED"
    # Once closed, a further sweep changes nothing.
    sweeper.sweep(now=later)
    assert len(dialogues(engine, device["device_id"], base)) == 2
    # The function the scheduler (or the local stack's timer) calls answers its counts.
    tick = requests.post(stack.url("sweeper") + "/", timeout=60)
    assert tick.status_code == 200 and "dialogues_requeued" in tick.json()


def test_a_five_minute_monologue_is_split_into_pieces_under_the_limit(
    api, device, engine, stack_env
) -> None:
    rec = scene.monologue(300.0, seed=3)
    start, end = rec.dialogues[0]
    base = _base()
    chunks = opus_chunks(rec.audio, 60)
    sent = [send(api, device, base + timedelta(seconds=60 * k), *c) for k, c in enumerate(chunks)]
    wait_done(engine, sent)
    limit = load({}).max_dialogue_sec

    def pieces() -> list[dict] | None:
        rows = dialogues(engine, device["device_id"], base)
        return rows if rows and abs(rows[-1]["end"] - end) <= 1.0 else None

    rows = wait_for("the monologue's last piece", pieces)
    assert len(rows) >= 3
    assert abs(rows[0]["start"] - start) <= 1.0
    for a, b in itertools.pairwise(rows):
        assert a["end"] <= b["start"] < a["end"] + 3.0  # cut at a pause, nothing lost
    assert all(r["end"] - r["start"] <= limit for r in rows)


def _rejects(engine, sent: Sent) -> str:
    status, error = wait_for(
        "the chunk's verdict",
        lambda: (st := chunk_state(engine, sent.chunk_id))[0] in ("DONE", "REJECTED") and st,
    )
    assert status == "REJECTED"
    assert storage.bucket().get_blob(sent.object_name) is not None  # kept for inspection
    return error


def _good(seconds: float = 5.0) -> bytes:
    return audio.encode_opus(scene.synth.shop_noise(seconds, level_db=-40.0, seed=1))


def _long_wav(seconds: float, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(round(seconds * rate)), rate, format="WAV", subtype="PCM_U8")
    return buf.getvalue()


BAD = {
    "size mismatch": lambda good: (good, 5.0, good + b"extra"),
    "sha256 mismatch": lambda good: (good, 5.0, good[:-1] + bytes([good[-1] ^ 1])),
    "empty object": lambda good: (good, 5.0, b""),
    "not audio": lambda good: (b"%PDF-1.7 this is a receipt, not audio" * 20, 5.0, None),
    "truncated ogg": lambda good: (good[: len(good) // 2], 5.0, None),
    "duration mismatch": lambda good: (good, 20.0, None),
    "absurd duration": lambda good: (_long_wav(400.0), 60.0, None),
    # read from the header, before decoding (issue 18); the announcement says 16 kHz
    "sample rate mismatch": lambda good: (_long_wav(5.0, 8000), 5.0, None),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_rejected_with_its_reason_and_the_pipeline_goes_on(
    api, device, engine, stack_env, case
) -> None:
    data, duration, body = BAD[case](_good())
    base = _base()
    error = _rejects(engine, send(api, device, base, data, duration, body))
    assert error.startswith(case), error
    # The next chunk of the same device goes through.
    wait_done(engine, [send(api, device, base + timedelta(seconds=60), _good(), 5.0)])


def test_an_object_nobody_announced_is_recorded_as_an_orphan(
    api, device, engine, stack_env
) -> None:
    name = f"chunks/{device['device_id']}/2026/01/01/20260101T000000Z_{uuid.uuid4()}.ogg"
    storage.bucket().blob(name).upload_from_string(_good(), content_type="audio/ogg")

    def orphan() -> Any:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT reason FROM orphan_objects WHERE object_name = :o"), {"o": name}
            ).first()

    assert "no announced chunk" in wait_for("the orphan record", orphan).reason
    assert storage.bucket().get_blob(name) is not None
    wait_done(engine, [send(api, device, _base(), _good(), 5.0)])


def test_sweep_command_runs_one_tick(stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "salescontrol", "sweep"],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {
        "devices_closed",
        "dialogues_closed",
        "chunks_requeued",
        "dialogues_requeued",
        "analyses_requeued",
        "given_up",
        "erased",
        "receipts_rematched",
    }


@pytest.fixture
def asr_requests(stack_env):
    """A temporary pull subscription on asr-requests; yields a pull-by-dialogue function."""
    with watch(stack_env["GOOGLE_CLOUD_PROJECT"], "asr-requests") as requests_seen:

        def pull_for(dialogue_id: str) -> list[dict]:
            """The requests for `dialogue_id` published since this call began."""
            start = len(requests_seen.received)
            return wait_for(
                f"asr-requests for {dialogue_id}",
                lambda: [
                    b
                    for b in bodies(requests_seen.pull()[start:])
                    if b["dialogue_id"] == dialogue_id
                ],
                30,
            )

        yield pull_for


def test_the_sweeper_requeues_stuck_chunks_and_dialogues(
    api, device, engine, stack_env, sweeper_alone, two_dialogues, asr_requests
) -> None:
    _, chunks = two_dialogues
    base = _base()
    sent = send_recording(api, device, base, chunks, range(len(chunks)))
    wait_done(engine, sent)
    rows = wait_for("dialogues", lambda: dialogues(engine, device["device_id"], base))
    assert asr_requests(rows[0]["dialogue_id"])[0]["audio_object"] == rows[0]["audio_object"]
    # A vad instance died holding chunk 0; the ASR worker lost dialogue 0.
    stale = datetime.now(UTC) - timedelta(seconds=load({}).stuck_timeout_sec + 60)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE audio_chunks SET status = 'PROCESSING', object_generation = NULL, "
                "updated_at = :t WHERE chunk_id = :c"
            ),
            {"t": stale, "c": sent[0].chunk_id},
        )
        conn.execute(
            sa.text(
                "UPDATE dialogues SET asr_status = 'PROCESSING', updated_at = :t "
                "WHERE dialogue_id = :d"
            ),
            {"t": stale, "d": rows[0]["dialogue_id"]},
        )
    result = sweeper.sweep()
    assert result.chunks_requeued >= 1 and result.dialogues_requeued >= 1
    wait_done(engine, sent[:1])
    again = asr_requests(rows[0]["dialogue_id"])
    assert again[0] == {
        "dialogue_id": rows[0]["dialogue_id"],
        "audio_object": rows[0]["audio_object"],
        "language": "ru",
        "tier": "fast",
        "force": False,
    }
    assert dialogues(engine, device["device_id"], base)[0]["asr_status"] == "QUEUED"
    assert shape(dialogues(engine, device["device_id"], base)) == shape(rows)


def test_the_sweeper_stops_waiting_for_a_chunk_that_never_comes(
    api, device, engine, stack_env, two_dialogues, monkeypatch
) -> None:
    rec, chunks = two_dialogues
    base = _base()
    lost = 2  # the middle of dialogue B; the device goes on recording
    kept = [k for k in range(len(chunks)) if k != lost]
    wait_done(engine, send_recording(api, device, base, chunks, kept))
    wait_for("dialogue A", lambda: dialogues(engine, device["device_id"], base))
    # The device is not quiet: only the waiting rule may close B.
    monkeypatch.setenv("SWEEP_DELAY_SEC", str(10**9))
    config.settings.cache_clear()
    sweeper.sweep(now=datetime.now(UTC) + timedelta(seconds=60))
    assert len(dialogues(engine, device["device_id"], base)) == 1
    wait = config.settings().late_chunk_wait_sec
    sweeper.sweep(now=datetime.now(UTC) + timedelta(seconds=wait + 60))
    # The lost 20 s count as silence, longer than SILENCE_GAP_SEC: B comes out in two.
    rows = dialogues(engine, device["device_id"], base)
    assert len(rows) == 3
    assert abs(rows[1]["start"] - rec.dialogues[1][0]) <= 1.0
    assert 38.0 <= rows[1]["end"] <= 40.0
    assert rows[2]["start"] >= 60.0 and abs(rows[2]["end"] - rec.dialogues[1][1]) <= 1.0
    with engine.connect() as conn:
        closed_by = conn.execute(
            sa.text("SELECT closed_by FROM assembly_spans WHERE device_id = :d ORDER BY start_ms"),
            {"d": device["device_id"]},
        ).scalars()
        assert list(closed_by) == ["evidence", "sweeper", "sweeper"]


@pytest.fixture(scope="module")
def queue() -> tuple[list[tuple[float, float]], list[tuple[bytes, float]]]:
    """A minute of a rush hour: two customers 5.7 s apart, the radio after them."""
    from devkit import rushhour

    rec = rushhour.generate(rushhour.DEV_SEEDS[8], minutes=3.0)
    first, second = rec.truth["dialogues"][:2]
    assert second["start"] - first["end"] < 8.0 and second["end"] < 45.0
    return [(d["start"], d["end"]) for d in (first, second)], opus_chunks(
        rec.audio[: 60 * audio.RATE]
    )


def test_a_queue_is_split_per_customer_the_same_for_any_delivery(
    api, engine, stack_env, queue
) -> None:
    truth, chunks = queue
    base = _base()
    in_order, shuffled = api.register(), api.register()
    wait_done(engine, send_recording(api, in_order, base, chunks, range(len(chunks))))
    expected = wait_for(
        "the queue's two dialogues",
        lambda: len(d := dialogues(engine, in_order["device_id"], base)) == 2 and d,
    )
    for row, (start, end) in zip(expected, truth, strict=True):
        assert abs(row["start"] - start) <= 1.0 and abs(row["end"] - end) <= 1.5
    with engine.connect() as conn:
        radio = conn.execute(
            sa.text("SELECT count(*) FROM background_speech WHERE device_id = :d"),
            {"d": in_order["device_id"]},
        ).scalar_one()
    assert radio >= 1  # the radio after them was dropped, not made a dialogue

    order = [2, 0, 1]
    sent = send_recording(api, shuffled, base, chunks, order)
    for s in sent:  # every notification a second time
        blob = storage.bucket().get_blob(s.object_name)
        notice = StorageObject(
            OBJECT_FINALIZE, blob.bucket.name, blob.name, blob.generation, blob.size
        )
        payload, attributes = notice.notification()
        pubsub.publish("chunk-uploaded", payload, **attributes)
    wait_done(engine, sent)
    got = wait_for(
        "the same two dialogues",
        lambda: shape(d := dialogues(engine, shuffled["device_id"], base)) == shape(expected) and d,
    )
    for a, b in zip(expected, got, strict=True):
        assert pcm_digest(a["audio_object"]) == pcm_digest(b["audio_object"])
