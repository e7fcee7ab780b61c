"""Simulated devices, running the recorder's own code.

Encoding is the costliest part of a device and identical in every run, so each
recording is cut and opus-encoded once, by the recorder's replay source into a spool
(`encode`). Each run then gives every device its own copy of those chunks (`stage`, with
chunk ids of its own) and the recorder's agent uploads them as they are released into
its outbox, at `speed` times real time (`upload_live`), or, for a device that was
offline, in random order once its network is back (`upload_shuffled`).
"""

from __future__ import annotations

import os
import random
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path

import yaml

from recorder import config as recorder_config
from recorder import replay
from recorder.agent import Agent
from recorder.health import Health
from recorder.replay import ReplayResult
from recorder.spool import ChunkName, Spool
from recorder.uploader import Result, Uploader


def config(
    root: Path, device_id: str, ids: dict[str, str], server_url: str, token: str, chunk_sec: float
) -> recorder_config.Config:
    """Write and load a recorder config.yaml for one device under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {
        "device_id": device_id,
        "point_id": ids["point_id"],
        "register_id": ids["register_id"],
        "server": {
            "url": server_url,
            "token": token,
            "timeout_sec": 30,
            "retry_initial_sec": 0.5,
            "retry_max_sec": 5,
            "heartbeat_sec": 30,
            "verify_sec": 5,
        },
        "recording": {
            "chunk_duration_sec": chunk_sec,
            "schedule_start": "00:00",
            "schedule_end": "00:00",
        },
        "storage": {"spool_dir": str(root / "spool"), "max_age_days": 7, "max_size_gb": 5},
        "logging": {"level": "WARNING", "format": "json"},
        "healthcheck": {"enabled": False, "port": 0, "host": "127.0.0.1"},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return recorder_config.load(root / "config.yaml")


def encode(
    recording: Path, root: Path, start: datetime, chunk_sec: float, timeout: float
) -> list[Path]:
    """Cut and encode `recording` (from `start` on the time line) with the recorder's
    replay source; return its chunk files, oldest first."""
    ids = {"point_id": str(uuid.uuid4()), "register_id": str(uuid.uuid4())}
    settings = config(root, str(uuid.uuid4()), ids, "http://127.0.0.1:9", "encode-only", chunk_sec)
    result = replay.run(settings, recording, speed=0, start=start, timeout=timeout, upload=False)
    if not result.drained or result.moved_to_failed:
        raise RuntimeError(f"encoding {recording} did not finish: {result}")
    return Spool(settings.storage.spool_dir).pending()


def stage(chunks: list[Path], device_id: str, into: Path) -> list[Path]:
    """Copies of `chunks` for one device: the same audio and times, ids of its own."""
    into.mkdir(parents=True, exist_ok=True)
    staged = []
    for path in chunks:
        name = ChunkName.parse(path.name)
        assert name is not None, path
        own = ChunkName(name.started_at, uuid.uuid5(uuid.UUID(device_id), path.name))
        staged.append(Path(shutil.copy2(path, into / own.filename)))
    return staged


def upload_live(
    settings: recorder_config.Config, staged: list[Path], speed: float, timeout: float
) -> ReplayResult:
    """The agent uploads the chunks as they land in its outbox, one `chunk_sec / speed`
    apart (all at once for speed 0), and returns when its outbox is empty and the server
    has verified every upload."""
    spool = Spool(settings.storage.spool_dir)
    spool.create()
    gap = settings.recording.chunk_duration_sec / speed if speed else 0.0
    with Agent(settings, record=False, upload=True) as agent:
        began = time.monotonic()
        for i, path in enumerate(staged):
            time.sleep(max(0.0, began + i * gap - time.monotonic()))
            os.replace(path, spool.outbox / path.name)
            assert agent.uploader is not None
            agent.uploader.wake.set()
        drained = agent.wait_drained(timeout)
        health = agent.health.snapshot()
    return ReplayResult(
        drained=drained,
        chunks_recorded=len(staged),
        uploaded=health["uploaded"],
        moved_to_failed=health["moved_to_failed"],
        health=health,
    )


def upload_shuffled(
    settings: recorder_config.Config, staged: list[Path], seed: int, timeout: float
) -> ReplayResult:
    """A backlog sent in random order by the recorder's uploader, one chunk at a time,
    each retried until the server has it (or refuses it for good), then kept until the
    server has verified it."""
    spool = Spool(settings.storage.spool_dir)
    spool.create()
    for path in staged:
        os.replace(path, spool.outbox / path.name)
    health = Health(settings.device_id, spool)
    uploader = Uploader(settings.server, spool, health)
    backlog = spool.pending()
    random.Random(seed).shuffle(backlog)
    deadline = time.monotonic() + timeout
    try:
        for path in backlog:
            while uploader.upload(path).result not in (Result.DELIVERED, Result.REFUSED):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        # Kept until the server has verified each upload; a corrupted one goes up again.
        while (spool.unverified() or spool.pending()) and time.monotonic() < deadline:
            uploader.check_sent()
            for path in spool.pending():
                uploader.upload(path)
            time.sleep(settings.server.verify_sec)
    finally:
        uploader.session.close()
    snapshot = health.snapshot()
    return ReplayResult(
        drained=not spool.pending() and not spool.unverified(),
        chunks_recorded=len(staged),
        uploaded=snapshot["uploaded"],
        moved_to_failed=snapshot["moved_to_failed"],
        health=snapshot,
    )
