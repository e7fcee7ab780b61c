"""The worker's counters, served as /health (JSON) and /metrics (Prometheus text)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Metrics:
    """Thread-safe counters of the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.processed = 0
        self.skipped = 0
        self.failed = 0
        self.retried = 0
        self.in_flight = 0
        self.audio_sec = 0.0
        self.processing_sec = 0.0

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            rtf = self.processing_sec / self.audio_sec if self.audio_sec else 0.0
            return {
                "processed": self.processed,
                "skipped": self.skipped,
                "failed": self.failed,
                "retried": self.retried,
                "in_flight": self.in_flight,
                "audio_seconds": round(self.audio_sec, 3),
                "processing_seconds": round(self.processing_sec, 3),
                "rtf": round(rtf, 4),
            }


def prometheus(snapshot: dict[str, float]) -> str:
    lines = []
    for name, value in snapshot.items():
        kind = "gauge" if name in ("in_flight", "rtf") else "counter"
        metric = f"asr_{name}" + ("_total" if kind == "counter" else "")
        lines += [f"# TYPE {metric} {kind}", f"{metric} {value}"]
    return "\n".join(lines) + "\n"


def serve(port: int, metrics: Metrics, healthy: Callable[[], bool]) -> ThreadingHTTPServer:
    """Serve /health and /metrics on all interfaces at `port` (0: any free one), in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                ok = healthy()
                body = json.dumps({"status": "ok" if ok else "stopping", **metrics.snapshot()})
                self._send(200 if ok else 503, "application/json", body)
            elif self.path == "/metrics":
                self._send(200, "text/plain; version=0.0.4", prometheus(metrics.snapshot()))
            else:
                self._send(404, "text/plain", "not found\n")

        def _send(self, code: int, content_type: str, body: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:  # probes every few seconds: no noise
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
