"""Fault injectors for the load run, each a small function that reports what it did.

kill_process   SIGKILL a child of the local stack mid-work and start it again
restart_postgres  Postgres restarted under load (connections cut, clients reconnect)
FaultProxy     an HTTP hop put in front of a push endpoint or of a device's ingest URL:
               `error` answers 500 (a failing push endpoint), `down` drops connections
               (a device's network), `duplicate` forwards every request twice
               (at-least-once delivery taken literally)
push_through   point a push subscription at a proxy (and back)
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from google.cloud import pubsub_v1

from salescontrol.local.stack import LocalStack, _env

PASS, ERROR, DOWN, DUPLICATE = "pass", "error", "down", "duplicate"


@dataclass
class Fault:
    kind: str
    target: str
    at: float  # time.time() when injected
    recovery_sec: float | None = None  # until the target served again
    detail: dict = field(default_factory=dict)


def kill_process(stack: LocalStack, name: str) -> Fault:
    """SIGKILL `name` (its whole process group) and restart it."""
    at = time.time()
    return Fault("sigkill", name, at, stack.restart(name, signal.SIGKILL))


def restart_postgres(stack: LocalStack) -> Fault:
    """Postgres restarted (fast shutdown: every client connection is cut) on its data.

    Not SIGKILL: the local cluster runs with synchronous_commit=off for speed, so a
    crash there may lose the last fraction of a second of commits, which Cloud SQL
    (synchronous commit on) does not; that would test the emulation, not the code.
    """
    at = time.time()
    return Fault("postgres_restart", "postgres", at, stack.restart("postgres", signal.SIGINT))


class FaultProxy:
    """An HTTP forwarder to `target` whose `mode` can be changed while it runs."""

    _HOP = frozenset({"host", "content-length", "connection", "transfer-encoding"})

    def __init__(self, target: str, mode: str = PASS) -> None:
        self.target = target.rstrip("/")
        self.mode = mode
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                mode = proxy.mode
                proxy._count(mode)
                if mode == DOWN:
                    self.close_connection = True  # no answer at all, like a dead link
                    return
                if mode == ERROR:
                    self._answer(500, b'{"error": "injected"}', "application/json")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in proxy._HOP}
                url = proxy.target + self.path
                for _ in range(2 if mode == DUPLICATE else 1):
                    answer = requests.request(
                        self.command, url, data=body, headers=headers, timeout=600
                    )
                    proxy._count(f"forwarded_{answer.status_code}")
                kind = answer.headers.get("Content-Type", "application/octet-stream")
                self._answer(answer.status_code, answer.content, kind, answer.headers)

            def _answer(self, status: int, data: bytes, kind: str, extra=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                if extra and "Retry-After" in extra:
                    self.send_header("Retry-After", extra["Retry-After"])
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def push_through(stack: LocalStack, subscription: str, proxy: FaultProxy) -> Iterator[None]:
    """Deliver `subscription`'s pushes through `proxy` while inside the block."""
    original = stack.url(stack.topology.push_target(subscription).name) + "/"
    with _env(stack.env):
        client = pubsub_v1.SubscriberClient()
        path = client.subscription_path(stack.project, subscription)

        def point(url: str) -> None:
            client.modify_push_config(
                subscription=path, push_config=pubsub_v1.types.PushConfig(push_endpoint=url)
            )

        point(proxy.url + "/")
        try:
            yield
        finally:
            point(original)
            client.close()
