"""Helpers of the ASR worker tests: a worker process, dialogue rows, a watch on a topic."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from google.cloud import pubsub_v1

from devkit.local.provision import using_env
from devkit.local.stack import LocalStack, free_port
from devkit.waiting import poll_until
from salescontrol import chunks, devices, storage
from tests.pubsub_kit import subscribe

REPO = Path(__file__).resolve().parent.parent


def eventually(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    return poll_until(check, timeout, message=what)


class WorkerProcess:
    """`python -m asr_service` against a stack, with its health port and log file."""

    def __init__(
        self, stack: LocalStack, log_path: Path, subscription: str | None = None, **settings: str
    ) -> None:
        """A worker on a new subscription of its own, or on `subscription` (kept at exit)."""
        self.port = free_port()
        self.stack_env = stack.env
        self.owns_subscription = subscription is None
        with using_env(self.stack_env):  # module-scoped callers run before stack_env is set
            self.subscription = subscription or subscribe(
                stack.project, "asr-requests", ack_deadline_seconds=600
            )
        env = {
            **os.environ,
            **stack.env,
            "ASR_HEALTH_PORT": str(self.port),
            "ASR_SUBSCRIPTION": self.subscription.rsplit("/", 1)[1],
            **settings,
        }
        env["PYTHONPATH"] = str(REPO)
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "asr_service"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            eventually(self._healthy, 60, f"the worker's /health (log {log_path})")
        except BaseException:
            self.__exit__()
            raise

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited: {self.log_path.read_text()[-2000:]}")
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/health", timeout=1).ok
        except requests.RequestException:
            return False

    def metrics(self) -> dict[str, float]:
        """The counters of /health (processed, failed, skipped, retried, in_flight, rtf)."""
        return requests.get(f"http://127.0.0.1:{self.port}/health", timeout=5).json()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM; the exit code, which must come within `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=timeout)

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self.owns_subscription:
            return
        with using_env(self.stack_env), pubsub_v1.SubscriberClient() as subscriber:
            subscriber.delete_subscription(subscription=self.subscription)


def make_dialogue(engine: sa.Engine, audio: bytes | None) -> tuple[str, str]:
    """A device and a QUEUED dialogue row; its audio uploaded unless None. (id, object)."""
    device_id, dialogue_id = uuid.uuid4(), uuid.uuid4()
    started = datetime.now(UTC)
    object_name = chunks.dialogue_object_name(device_id, started, dialogue_id)
    with engine.begin() as conn:
        devices.register(conn, device_id, uuid.uuid4(), uuid.uuid4())
        start_ms = int(started.timestamp() * 1000)
        conn.execute(
            sa.text(
                "INSERT INTO dialogues (dialogue_id, device_id, point_id, register_id, start_ms,"
                " end_ms, started_at, ended_at, speech_sec, audio_object, asr_status) "
                "SELECT :id, device_id, point_id, register_id, :s, :e, :t, :t, 5, :o, 'QUEUED' "
                "FROM devices WHERE device_id = :dev"
            ),
            {"id": dialogue_id, "s": start_ms, "e": start_ms + 5000, "t": started,
             "o": object_name, "dev": device_id},
        )  # fmt: skip
    if audio is not None:
        storage.bucket().blob(object_name).upload_from_string(audio, content_type="audio/ogg")
    return str(dialogue_id), object_name


def dialogue_state(engine: sa.Engine, dialogue_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT d.asr_status, d.asr_error, t.text, t.segments, t.updated_at, t.tier "
                "FROM dialogues d LEFT JOIN dialogue_transcripts t USING (dialogue_id) "
                "WHERE d.dialogue_id = :d"
            ),
            {"d": dialogue_id},
        ).one()
    return dict(row._mapping)
