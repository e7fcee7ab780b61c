"""The recorder against the real local stack: delivery, outage, kill -9, refused token."""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from recorder_kit import (
    ExpiringBucket,
    Proxy,
    eventually,
    free_port,
    health,
    load,
    tone_file,
    write_config,
)

from recorder import replay
from recorder.agent import Agent
from recorder.sources import Replay
from recorder.spool import ChunkName, Spool
from salescontrol import storage

REPO = Path(__file__).resolve().parent.parent
DELIVERED = {"UPLOADED", "PROCESSING", "DONE"}  # later stages may already have moved on


def _rows(engine: sa.Engine, device_id: str) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT chunk_id, started_at, duration_sec, sha256, object_name, status"
                    " FROM audio_chunks WHERE device_id = :d ORDER BY started_at"
                ),
                {"d": device_id},
            )
        )


def _device_config(tmp_path: Path, device: dict, url: str, **overrides) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        tmp_path / "spool",
        url,
        device["token"],
        device_id=device["device_id"],
        point_id=device["point_id"],
        register_id=device["register_id"],
        **overrides,
    )


def _start() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def test_replayed_recording_lands_in_bucket_and_database(
    tmp_path, stack, stack_env, device, engine
) -> None:
    config = load(_device_config(tmp_path, device, stack.url("ingest")))
    start = _start()
    result = replay.run(config, tone_file(tmp_path / "in.wav", 9), speed=0, start=start)
    assert result.drained and result.chunks_recorded == 3 and result.uploaded == 3
    rows = _rows(engine, device["device_id"])
    assert [r.started_at for r in rows] == [start + timedelta(seconds=3 * k) for k in range(3)]
    assert all(r.status in DELIVERED and r.duration_sec == pytest.approx(3.0) for r in rows)
    for row in rows:
        blob = storage.bucket().get_blob(row.object_name)
        assert blob is not None
        assert hashlib.sha256(blob.download_as_bytes()).hexdigest() == row.sha256
    assert Spool(config.storage.spool_dir).pending() == []
    assert result.health["last_upload"]["result"] == "ok"
    with engine.connect() as conn:
        reported = conn.execute(
            sa.text("SELECT last_health FROM devices WHERE device_id = :d"),
            {"d": device["device_id"]},
        ).scalar_one()
    assert reported["device_id"] == device["device_id"] and "recording" in reported


def test_chunk_the_server_refuses_goes_to_failed_with_the_reason(
    tmp_path, stack, stack_env, device, engine
) -> None:
    config = load(_device_config(tmp_path, device, stack.url("ingest")))
    tomorrow = datetime.now(UTC) + timedelta(days=1)  # a Pi whose clock ran ahead
    result = replay.run(config, tone_file(tmp_path / "in.wav", 3), speed=0, start=tomorrow)
    assert result.drained and result.moved_to_failed == 1 and result.uploaded == 0
    spool = Spool(config.storage.spool_dir)
    (kept,) = [p for p in spool.failed.iterdir() if p.suffix == ".ogg"]
    reason = json.loads(kept.with_name(kept.name + ".reason.json").read_text())
    assert "started_at" in reason["reason"] and "future" in reason["reason"]
    assert reason["server"]["field"] == "started_at"
    assert result.health["last_upload"]["result"] == "refused"
    assert _rows(engine, device["device_id"]) == []


def test_ingest_outage_then_recovery_delivers_every_chunk_once(
    tmp_path, stack, stack_env, device, engine
) -> None:
    proxy = Proxy(stack.url("ingest"))
    config = load(_device_config(tmp_path, device, proxy.url))
    source = Replay(tone_file(tmp_path / "in.wav", 15), speed=0, start=_start())
    with Agent(config, source=source) as agent:
        spool = agent.spool
        # ingest is unreachable while five chunks are recorded: they wait in the outbox
        eventually(agent.capture.finished.is_set, what="the replay to be recorded")
        report = eventually(
            lambda: (r := health(agent.health_port))["upload_failures"] >= 3 and r,
            what="failed upload attempts",
        )
        assert report["status"] == "degraded"
        assert report["last_upload"]["result"] == "error"
        assert report["queue"]["outbox_files"] == 5
        assert _rows(engine, device["device_id"]) == []
        proxy.up()
        assert agent.wait_drained(timeout=60)
        report = health(agent.health_port)
    proxy.down()
    rows = _rows(engine, device["device_id"])
    assert len(rows) == 5 and len({r.chunk_id for r in rows}) == 5
    assert len({r.started_at for r in rows}) == 5
    assert all(r.status in DELIVERED for r in rows)
    assert spool.pending() == [] and list(spool.failed.iterdir()) == []
    assert report["uploaded"] == 5 and report["status"] == "ok"


def test_expired_upload_url_gets_a_new_one(tmp_path, stack, stack_env, device, engine) -> None:
    with ExpiringBucket(stack.url("ingest"), refuse=1) as front:
        config = load(_device_config(tmp_path, device, front.url))
        result = replay.run(config, tone_file(tmp_path / "in.wav", 3), speed=0, start=_start())
    assert result.drained and result.uploaded == 1 and result.moved_to_failed == 0
    assert front.puts == [400, 200]  # the expired URL, then a fresh one
    assert front.announcements == 3  # announce, announce again for a new URL, confirm
    assert not any("authorization" in headers for headers in front.put_headers)
    assert all("x-goog-if-generation-match" in headers for headers in front.put_headers)
    (row,) = _rows(engine, device["device_id"])
    assert row.status in DELIVERED


def test_a_chunk_corrupted_on_the_way_is_kept_and_sent_again(
    tmp_path, stack, stack_env, device, engine
) -> None:
    """The Pi keeps a chunk until vad has checked its hash: a damaged upload is REJECTED
    (sha256 mismatch), the device is told to resend, and the second upload is DONE."""
    with ExpiringBucket(stack.url("ingest"), refuse=0, corrupt=1) as front:
        config = load(_device_config(tmp_path, device, front.url))
        result = replay.run(config, tone_file(tmp_path / "in.wav", 3), speed=0, start=_start())
    assert result.drained and result.uploaded == 1 and result.health["resent"] == 1
    (row,) = _rows(engine, device["device_id"])
    assert row.status == "DONE" and row.object_name.endswith(".r1.ogg")
    first = row.object_name.replace(".r1.ogg", ".ogg")
    kept = storage.bucket().get_blob(first)  # the damaged upload stays for inspection
    assert kept is not None and hashlib.sha256(kept.download_as_bytes()).hexdigest() != row.sha256
    spool = Spool(config.storage.spool_dir)
    assert spool.pending() == [] and spool.unverified() == []
    with engine.connect() as conn:
        error = conn.execute(
            sa.text("SELECT error FROM audio_chunks WHERE chunk_id = :c"), {"c": row.chunk_id}
        ).scalar_one()
    assert error is None  # DONE clears the note of the corrupt first upload


def test_refused_token_keeps_files_and_shows_in_health(
    tmp_path, stack, stack_env, device, engine
) -> None:
    wrong = {**device, "token": "w" * 64}
    config = load(_device_config(tmp_path, wrong, stack.url("ingest")))
    source = Replay(tone_file(tmp_path / "in.wav", 6), speed=0, start=_start())
    with Agent(config, source=source) as agent:
        report = eventually(
            lambda: (r := health(agent.health_port))["auth_error"] and r, what="auth error"
        )
        eventually(agent.capture.finished.is_set, what="the replay to be recorded")
        report = health(agent.health_port)
    assert report["auth_error"].startswith("401")
    assert report["status"] == "degraded"
    assert any("refuses this device" in p for p in report["problems"])
    spool = Spool(config.storage.spool_dir)
    assert len(spool.pending()) == 2 and list(spool.failed.iterdir()) == []
    assert _rows(engine, device["device_id"]) == []


@contextlib.contextmanager
def _recorder(config: Path, *args: str) -> Iterator[subprocess.Popen]:
    """`python -m recorder` as a child process (killed if the test fails)."""
    log = config.with_suffix(".log").open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", "recorder", "--config", str(config), *args],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        log.close()


@pytest.mark.slow
def test_kill_9_mid_chunk_loses_at_most_that_chunk(
    tmp_path, stack, stack_env, device, engine
) -> None:
    config_path = _device_config(
        tmp_path,
        device,
        stack.url("ingest"),
        recording__chunk_duration_sec=6,
        healthcheck__port=free_port(),
    )
    config = load(config_path)
    spool = Spool(config.storage.spool_dir)
    start = _start()
    audio = tone_file(tmp_path / "in.wav", 60)
    replaying = ("--replay", str(audio), "--speed", "3", "--start", start.isoformat())
    with _recorder(config_path, *replaying) as recorder:
        # two whole chunks delivered, the third well under way in the inbox
        eventually(lambda: len(_rows(engine, device["device_id"])) >= 2, what="two chunks")
        partial = eventually(
            lambda: [p for p in spool.partials() if p.stat().st_size > 4000],
            what="a partial chunk with audio in it",
        )[0]
        recorder.send_signal(signal.SIGKILL)
        assert recorder.wait(10) == -signal.SIGKILL
    lost = ChunkName.parse(partial.name)
    before = {r.chunk_id for r in _rows(engine, device["device_id"])}
    assert partial.exists(), "the partial chunk must survive the kill"

    with _recorder(config_path, "--no-record", "--exit-when-done") as restarted:
        assert restarted.wait(60) == 0, config_path.with_suffix(".log").read_text()[-3000:]

    rows = _rows(engine, device["device_id"])
    ids = [r.chunk_id for r in rows]
    assert len(ids) == len(set(ids)) and before <= set(ids)
    # every chunk up to the killed one, contiguous on the time line; the killed one kept
    # its id: salvaged and delivered with part of its audio
    assert lost.chunk_id in ids
    starts = [r.started_at for r in rows]
    assert starts == [start + timedelta(seconds=6 * k) for k in range(len(rows))]
    assert 0 < rows[-1].duration_sec < 6
    assert spool.partials() == [] and spool.pending() == []
