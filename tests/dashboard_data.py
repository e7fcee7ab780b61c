"""Known dialogues for the dashboard tests, written straight into the schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import devices

REPO = Path(__file__).resolve().parent.parent


def add_device(conn: Connection, point: str, register: str, point_id: uuid.UUID | None = None):
    """Register a device at a (new or given) point with a new register."""
    dev, _ = devices.register(
        conn,
        uuid.uuid4(),
        point_id or uuid.uuid4(),
        uuid.uuid4(),
        point_name=point,
        register_name=register,
    )
    return dev


def add_dialogue(
    conn: Connection,
    dev: devices.Device,
    started_at: datetime,
    seconds: float = 30.0,
    segments: list[dict[str, Any]] | None = None,
    analysis: dict[str, Any] | None = None,
    **columns: Any,
) -> uuid.UUID:
    """Insert a dialogue, its transcript (if segments) and its analysis (if given)."""
    dialogue_id = uuid.uuid4()
    start_ms = int(started_at.timestamp() * 1000)
    row = {
        "dialogue_id": dialogue_id,
        "device_id": dev.device_id,
        "point_id": dev.point_id,
        "register_id": dev.register_id,
        "start_ms": start_ms,
        "end_ms": start_ms + int(seconds * 1000),
        "started_at": started_at,
        "ended_at": datetime.fromtimestamp(start_ms / 1000 + seconds, started_at.tzinfo),
        "speech_sec": seconds * 0.8,
        "audio_object": f"dialogues/{dev.device_id}/{dialogue_id}.ogg",
        "asr_status": "DONE" if segments is not None else "PENDING",
        "analysis_status": "DONE" if analysis is not None else "PENDING",
        **columns,
    }
    names = ", ".join(row)
    conn.execute(
        sa.text(f"INSERT INTO dialogues ({names}) VALUES ({', '.join(':' + k for k in row)})"),
        row,
    )
    if segments is not None:
        conn.execute(
            sa.text(
                "INSERT INTO dialogue_transcripts (dialogue_id, text, segments, model, tier) "
                "VALUES (:d, :t, CAST(:s AS jsonb), 'base', 'fast')"
            ),
            {
                "d": dialogue_id,
                "t": " ".join(s["text"] for s in segments),
                "s": json.dumps(segments, ensure_ascii=False),
            },
        )
    if analysis is not None:
        values = {
            "is_sales_dialogue": True,
            "accepted": None,
            "quality_score": None,
            "offers": [],
            "summary": None,
            "recommendation": None,
            "analyzer": "rules",
            "model": None,
            "prompt_version": "v1",
            **analysis,
        }
        values["offers"] = json.dumps(values["offers"], ensure_ascii=False)
        cols = ", ".join(values)
        params = ", ".join("CAST(:offers AS jsonb)" if k == "offers" else f":{k}" for k in values)
        conn.execute(
            sa.text(
                f"INSERT INTO dialogue_upsell_analysis (dialogue_id, {cols}) "
                f"VALUES (:dialogue_id, {params})"
            ),
            {"dialogue_id": dialogue_id, **values},
        )
    return dialogue_id


def add_chunk(
    conn: Connection, dev: devices.Device, status: str, at: datetime, error: str | None = None
) -> uuid.UUID:
    """Insert an audio chunk of `dev` in `status`, last changed at `at`."""
    chunk_id = uuid.uuid4()
    conn.execute(
        sa.text(
            "INSERT INTO audio_chunks (chunk_id, device_id, started_at, duration_sec, "
            "size_bytes, sha256, codec, sample_rate, object_name, status, error, "
            "updated_at) VALUES (:c, :d, :t, 60, 10, 'x', 'opus', 16000, :o, :s, :e, :t)"
        ),
        {
            "c": chunk_id,
            "d": dev.device_id,
            "t": at,
            "o": f"chunks/{chunk_id}",
            "s": status,
            "e": error,
        },
    )
    return chunk_id


def password_of(name: str) -> str:
    """The password the tests give user `name`."""
    return f"{name}-pass-9f3k"


def add_user(conn: Connection, name: str, role: str, points: list[uuid.UUID] | None = None) -> str:
    """Create a dashboard user with `password_of(name)`; return the password."""
    from dashboard import users

    users.add(conn, name, users.Role(role), password_of(name), points or [])
    return password_of(name)


@contextmanager
def served_dashboard(database_url: str, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`python -m salescontrol dashboard` on a free port over `database_url`; its base URL."""
    import requests

    from devkit.local.stack import free_port
    from devkit.waiting import poll_until

    port = free_port()
    full_env = {**os.environ, **env, "DATABASE_URL": database_url, "LOG_FORMAT": "text"}
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "salescontrol", "dashboard", "--port", str(port)],
            cwd=REPO,
            env=full_env,
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
            poll_until(up, 60, message="the dashboard to listen")
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)
