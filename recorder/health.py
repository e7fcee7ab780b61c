"""The agent's health: one shared state, served as JSON on `GET /health` and in heartbeats.

`status` is "ok", or "degraded" with `problems` naming what needs a person (microphone
missing, server refusing the token, uploads failing); /health then answers 503 so
`curl -f` and monitoring see it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from recorder.spool import Spool

log = logging.getLogger("recorder.health")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Health:
    """Counters and last events of capture, upload and retention (thread-safe)."""

    def __init__(self, device_id: str, spool: Spool) -> None:
        self.device_id, self.spool = device_id, spool
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.recording = "starting"  # recording | outside_schedule | microphone_error | ...
        self.microphone_error: str | None = None
        self.microphone_retries = 0
        self.last_chunk: dict[str, Any] | None = None
        self.chunks_recorded = 0
        self.blocks_dropped = 0
        self.writer_error: str | None = None
        self.capture_queue = 0
        self.last_upload: dict[str, Any] | None = None
        self.uploaded = 0  # uploaded and verified by the server (the local copy is gone)
        self.resent = 0  # uploads the server found corrupted and asked for again
        self.already_uploaded = 0
        self.upload_failures = 0
        self.moved_to_failed = 0
        self.auth_error: str | None = None
        self.retention_deleted = 0
        self.salvaged = 0
        self.last_heartbeat: dict[str, Any] | None = None

    def update(self, **fields: Any) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(self, key, value)

    def add(self, **counts: int) -> None:
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def snapshot(self) -> dict[str, Any]:
        """The health report as a JSON-ready dict."""
        with self._lock:
            state = {
                key: value
                for key, value in vars(self).items()
                if not key.startswith("_") and key not in {"spool", "device_id"}
            }
        problems = []
        if state["microphone_error"]:
            problems.append(f"microphone: {state['microphone_error']}")
        if state["writer_error"]:
            problems.append(f"cannot write chunks: {state['writer_error']}")
        if state["auth_error"]:
            problems.append(f"server refuses this device: {state['auth_error']}")
        last = state["last_upload"]
        if last and last["result"] == "error":
            problems.append(f"uploads failing: {last.get('error')}")
        try:
            usage = self.spool.usage()
            disk_free = self.spool.disk_free_bytes()
        except OSError as exc:
            usage, disk_free = {}, None
            problems.append(f"spool unreadable: {exc}")
        return {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "device_id": self.device_id,
            "time": _now(),
            "uptime_sec": round(time.monotonic() - self._started, 1),
            **state,
            "queue": usage,
            "disk_free_bytes": disk_free,
        }


class HealthServer:
    """`GET /health` on a port (0 picks a free one; `port` tells which)."""

    def __init__(self, health: Health, host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0].rstrip("/") != "/health":
                    self._send(404, {"error": "not_found", "message": "try /health"})
                    return
                report = health.snapshot()
                self._send(200 if report["status"] == "ok" else 503, report)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per probe would flood the journal

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="health", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        log.info("health endpoint listening", extra={"port": self.port})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
