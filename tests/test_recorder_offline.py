"""The recorder without a server: config check, retention, salvage, microphone, schedule."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
from recorder_kit import eventually, health, load, tone_file, write_config

from recorder import replay
from recorder.agent import Agent
from recorder.capture import in_window
from recorder.config import Config
from recorder.sources import Microphone
from recorder.spool import ChunkName, Spool

REPO = Path(__file__).resolve().parent.parent
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers HTTP there
TOKEN = "t" * 40


def _config(tmp_path: Path, **overrides) -> Config:
    """A validated config for a recorder that has no server to talk to."""
    return load(write_config(tmp_path / "c.yaml", tmp_path / "spool", NOWHERE, TOKEN, **overrides))


def _check(config: Path, module: str = "recorder") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, "--config", str(config), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


EXAMPLE = REPO / "recorder" / "config.example.yaml"  # the seed's section 6.5


def test_check_accepts_the_seed_config_once_filled_in(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for placeholder in ("YOUR_DEVICE_ID", "YOUR_POINT_ID", "YOUR_REGISTER_ID"):
        text = text.replace(placeholder, str(uuid.uuid4()))
    config = tmp_path / "config.yaml"
    config.write_text(text.replace("YOUR_DEVICE_TOKEN", TOKEN).replace('"08:00"', "08:00"))
    for module in ("recorder", "recorder_agent"):
        result = _check(config, module)
        assert result.returncode == 0, result.stderr
        assert "config ok" in result.stdout
    parsed = load(config)
    assert str(parsed.recording.schedule_start) == "08:00:00"  # unquoted YAML time too
    assert parsed.recording.bitrate == 24000
    assert parsed.storage.spool_dir == Path("/var/lib/recorder-agent/spool")


def test_check_refuses_the_unfilled_example() -> None:
    result = _check(EXAMPLE)
    assert result.returncode != 0
    assert "config error: device_id: must be a UUID" in result.stderr


def test_systemd_unit_keeps_the_seed_hardening() -> None:
    unit = (REPO / "recorder" / "recorder-agent.service").read_text()
    for line in (
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "ReadWritePaths=/var/lib/recorder-agent",
        "Restart=always",
        "WorkingDirectory=/opt/recorder-agent",
    ):
        assert f"\n{line}\n" in unit
    assert "-m recorder_agent --config /etc/recorder-agent/config.yaml" in unit


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"recording__chunk_duration_sec": 0}, "recording.chunk_duration_sec"),
        ({"recording__schedule_start": "25:00"}, "recording.schedule_start"),
        ({"recording__bitrate": "loud"}, "recording.bitrate"),
        ({"server__url": "ftp://x"}, "server.url"),
        ({"server__url": "http://10.0.0.5:8000"}, "server.url"),  # token and audio in clear
        ({"server__url": "http://ingest.example.com"}, "server.url"),
        ({"server__token": None}, "server.token"),
        ({"device_id": "pi-01"}, "device_id"),
        ({"storage__max_size_gb": -1}, "storage.max_size_gb"),
        ({"healthcheck__port": 70000}, "healthcheck.port"),
        ({"recording__chunk_secs": 60}, "recording.chunk_secs"),
    ],
)
def test_check_names_the_bad_field(tmp_path: Path, override: dict, field: str) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "spool", NOWHERE, TOKEN, **override)
    result = _check(config)
    assert result.returncode != 0
    assert f"config error: {field}:" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "https://ingest.example.com",
        "http://127.0.0.1:9",
        "http://localhost:8000",
        "http://[::1]:8000",
    ],
)
def test_plain_http_only_to_a_loopback_address(tmp_path: Path, url: str) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "spool", url, TOKEN)
    assert load(config).server.url == url


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    result = _check(tmp_path / "absent.yaml")
    assert result.returncode != 0
    assert "absent.yaml" in result.stderr


def test_quota_deletes_oldest_chunks_first_and_counts_them(tmp_path: Path) -> None:
    audio = tone_file(tmp_path / "in.wav", 30)
    one_chunk = 3 * 24000 / 8  # about 9 kB per 3 s chunk at 24 kbit/s
    config = _config(
        tmp_path,
        storage__max_size_gb=3.5 * one_chunk / 1e9,
    )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    result = replay.run(config, audio, speed=0, start=start, upload=False, timeout=60)
    assert result.drained and result.chunks_recorded == 10
    kept = Spool(config.storage.spool_dir).pending()
    assert 1 <= len(kept) <= 4
    assert sum(p.stat().st_size for p in kept) <= config.storage.max_bytes
    assert result.health["retention_deleted"] == 10 - len(kept)
    # the newest chunks survive: the last one recorded is among them
    starts = sorted(ChunkName.parse(p.name).started_at for p in kept)
    assert starts[-1] == start + timedelta(seconds=27)


def test_chunks_older_than_max_age_are_deleted(tmp_path: Path) -> None:
    audio = tone_file(tmp_path / "in.wav", 6)
    config = _config(tmp_path, storage__max_age_days=7)
    start = datetime.now(UTC) - timedelta(days=8)
    result = replay.run(config, audio, speed=0, start=start, upload=False, timeout=60)
    assert result.chunks_recorded == 2
    assert result.health["retention_deleted"] == 2
    assert Spool(config.storage.spool_dir).pending() == []


def test_uploaded_chunks_waiting_for_the_servers_check_are_kept_and_counted(
    tmp_path: Path,
) -> None:
    """sent/ holds uploads until the server has verified them: in the health report's
    queue, under the same retention as the outbox."""
    config = _config(tmp_path, storage__max_age_days=7)
    start = datetime.now(UTC) - timedelta(days=8)
    spool = Spool(config.storage.spool_dir)
    spool.create()
    recent = ChunkName.new(datetime.now(UTC) - timedelta(hours=1)).filename
    (spool.sent / recent).write_bytes(b"ogg bytes")
    assert spool.usage()["sent_files"] == 1
    deleted = spool.enforce_retention(timedelta(days=7), config.storage.max_bytes)
    assert deleted == [] and spool.unverified() == [spool.sent / recent]
    (spool.sent / ChunkName.new(start).filename).write_bytes(b"old")
    assert [p.parent.name for p in spool.enforce_retention(timedelta(days=7), 10**9)] == ["sent"]


def test_undecodable_partial_goes_to_failed_with_reason_on_start(tmp_path: Path) -> None:
    config = _config(tmp_path)
    spool = Spool(config.storage.spool_dir)
    spool.create()
    name = ChunkName.new(datetime.now(UTC))
    spool.partial_path(name).write_bytes(b"OggS not really")
    with Agent(config, record=False, upload=False) as agent:
        report = health(agent.health_port)
    failed = spool.failed / name.filename
    assert failed.exists()
    reason = json.loads((spool.failed / (name.filename + ".reason.json")).read_text())
    assert "not decodable" in reason["reason"]
    assert report["moved_to_failed"] == 1 and report["queue"]["failed_files"] == 1
    assert list(spool.inbox.iterdir()) == []


def test_decodable_partial_is_salvaged_with_its_chunk_id(tmp_path: Path) -> None:
    config = _config(tmp_path)
    tone = tone_file(tmp_path / "in.wav", 20)
    spool = Spool(config.storage.spool_dir)
    spool.create()
    name = ChunkName.new(datetime.now(UTC) - timedelta(minutes=5))
    whole = tmp_path / "whole.ogg"
    sf.write(whole, sf.read(tone)[0], 16000, format="OGG", subtype="OPUS")
    data = whole.read_bytes()
    spool.partial_path(name).write_bytes(data[: len(data) * 2 // 3])  # cut as by a power loss
    with Agent(config, record=False, upload=False) as agent:
        report = health(agent.health_port)
    salvaged = spool.outbox / name.filename
    assert salvaged.exists() and report["salvaged"] == 1
    info = sf.info(salvaged)
    assert 5 < info.frames / info.samplerate < 20


def test_missing_microphone_is_retried_and_shown_in_health(tmp_path: Path) -> None:
    config = _config(tmp_path)
    source = Microphone(device="no such microphone")
    with Agent(config, source=source, upload=False) as agent:
        report = eventually(
            lambda: (r := health(agent.health_port))["microphone_retries"] >= 2 and r,
            what="two microphone retries",
        )
        response = requests.get(f"http://127.0.0.1:{agent.health_port}/health", timeout=5)
    assert report["recording"] == "microphone_error"
    assert report["status"] == "degraded"
    assert any(p.startswith("microphone:") for p in report["problems"])
    assert response.status_code == 503


def test_nothing_is_recorded_outside_the_schedule_window(tmp_path: Path) -> None:
    now = datetime.now()
    start, end = (now + timedelta(hours=2)).strftime("%H:%M"), (now + timedelta(hours=3))
    config = _config(
        tmp_path,
        recording__schedule_start=start,
        recording__schedule_end=end.strftime("%H:%M"),
    )
    with Agent(config, source=Microphone(device="no such microphone"), upload=False) as agent:
        report = eventually(
            lambda: (r := health(agent.health_port))["recording"] == "outside_schedule" and r,
            what="outside_schedule",
        )
    assert report["microphone_retries"] == 0  # the device was not even opened
    assert report["chunks_recorded"] == 0


def test_sigterm_finishes_the_chunk_being_written(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "c.yaml", tmp_path / "spool", NOWHERE, TOKEN)
    spool = Spool(tmp_path / "spool")
    audio = tone_file(tmp_path / "in.wav", 30)
    command = [sys.executable, "-m", "recorder", "--config", str(config_path)]
    command += ["--replay", str(audio), "--no-upload"]  # real time: 1 s of audio per second
    with (tmp_path / "log").open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            eventually(
                lambda: spool.outbox.exists() and len(spool.pending()) == 1 and spool.partials(),
                what="the first 3 s chunk done and the second begun",
            )
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    chunks = spool.pending()
    assert len(chunks) == 2 and spool.partials() == []
    info = sf.info(chunks[-1])
    assert 0 < info.frames / info.samplerate < 3


def test_schedule_window_in_local_time_may_span_midnight() -> None:
    day, late = (time(8, 0), time(22, 0)), (time(20, 0), time(2, 0))
    at = {hour: datetime(2026, 11, 25, hour, 30) for hour in (1, 7, 12, 21, 23)}
    assert [in_window(at[h], *day) for h in sorted(at)] == [False, False, True, True, False]
    assert [in_window(at[h], *late) for h in sorted(at)] == [True, False, False, True, True]
    assert in_window(at[7], time(0, 0), time(0, 0))  # equal bounds: always


def test_replay_resamples_and_mixes_down_other_recordings(tmp_path: Path) -> None:
    stereo = tmp_path / "stereo44k.wav"
    t = np.arange(44100 * 4) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(stereo, np.stack([tone, tone], axis=1).astype("float32"), 44100)
    # Recent: the agent's retention (7 days) deletes older chunks before we look.
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    result = replay.run(_config(tmp_path), stereo, speed=0, start=start, upload=False)
    (chunk, second) = Spool(tmp_path / "spool").pending()
    assert ChunkName.parse(chunk.name).started_at == start
    assert ChunkName.parse(second.name).started_at == start + timedelta(seconds=3)
    assert result.chunks_recorded == 2
    audio, rate = sf.read(chunk)
    assert rate == 16000 and audio.ndim == 1
    spectrum = np.abs(np.fft.rfft(audio[4000:20000]))
    assert abs(np.argmax(spectrum) * rate / 16000 - 440) < 5  # still a 440 Hz tone
