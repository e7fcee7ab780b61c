"""Fault injectors for the load run, each a small function that reports what it did.

kill_process   SIGKILL a child of the local stack mid-request and start it again
preempt        SIGTERM a child (the ASR worker: a spot VM preempted) and start it again
restart_postgres  Postgres restarted under load (connections cut, clients reconnect)
FaultProxy     an HTTP hop put in front of a push endpoint or of a device's ingest URL:
               `error` answers 500 (a failing push endpoint), `down` drops connections
               (a device's network), `duplicate` forwards every request twice
               (at-least-once delivery taken literally)
push_through   point a push subscription at a proxy (and back)
Duplicator     every message of a pulled topic published once more (the ASR requests)
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import requests
from google.cloud import pubsub_v1

from devkit.local.provision import using_env
from devkit.local.stack import LocalStack

PASS, ERROR, DOWN, DUPLICATE = "pass", "error", "down", "duplicate"


@dataclass
class Fault:
    kind: str
    target: str
    at: float  # time.time() when injected
    recovery_sec: float | None = None  # until the target served again
    detail: dict = field(default_factory=dict)


def serving(stack: LocalStack, name: str) -> bool:
    """Whether `name` holds an accepted connection on its port: a request in progress."""
    service = next(s for s in stack.services if s.name == name)
    port = stack.ports[name]
    try:
        root = psutil.Process(service.proc.pid)
        tree = [root, *root.children(recursive=True)]
        return any(
            c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
            for p in tree
            for c in p.net_connections(kind="tcp")
        )
    except psutil.Error:
        return False


def kill_process(stack: LocalStack, name: str, wait_sec: float = 30.0) -> Fault:
    """SIGKILL `name` (its whole process group), mid-request when one comes within
    `wait_sec`, and restart it."""
    deadline = time.monotonic() + wait_sec
    while not (busy := serving(stack, name)) and time.monotonic() < deadline:
        time.sleep(0.02)
    at = time.time()
    recovery = stack.restart(name, signal.SIGKILL)
    return Fault("sigkill", name, at, recovery, {"mid_request": busy})


def preempt(stack: LocalStack, name: str) -> Fault:
    """SIGTERM `name` as a spot VM's preemption does, wait for it to exit, restart it."""
    at = time.time()
    return Fault("sigterm", name, at, stack.restart(name, signal.SIGTERM))


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
                    try:
                        answer = requests.request(
                            self.command, url, data=body, headers=headers, timeout=600
                        )
                    except requests.RequestException:  # the target was killed meanwhile
                        proxy._count("unreachable")
                        self._answer(502, b'{"error": "unreachable"}', "application/json")
                        return
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


def point_push(stack: LocalStack, subscription: str, url: str) -> None:
    """Make `subscription` push to `url` from now on."""
    with using_env(stack.env):
        client = pubsub_v1.SubscriberClient()
        try:
            client.modify_push_config(
                subscription=client.subscription_path(stack.project, subscription),
                push_config=pubsub_v1.types.PushConfig(push_endpoint=url),
            )
        finally:
            client.close()


@contextlib.contextmanager
def push_through(stack: LocalStack, subscription: str, proxy: FaultProxy) -> Iterator[None]:
    """Deliver `subscription`'s pushes through `proxy` while inside the block."""
    original = stack.url(stack.topology.push_target(subscription).name) + "/"
    point_push(stack, subscription, proxy.url + "/")
    try:
        yield
    finally:
        point_push(stack, subscription, original)


class Duplicator:
    """Publishes every message of `topic` once more, as at-least-once delivery may.

    For a pulled subscription (the ASR worker's), where no proxy can stand in between:
    a subscription of its own on the topic sees each message and publishes a copy
    (marked, so copies are not copied again)."""

    MARK = "soak_copy"

    def __init__(self, stack: LocalStack, topic: str) -> None:
        self.copies = 0
        with using_env(stack.env):
            self._publisher = pubsub_v1.PublisherClient()
            self._subscriber = pubsub_v1.SubscriberClient()
        self._topic = self._publisher.topic_path(stack.project, topic)
        self._subscription = self._subscriber.subscription_path(
            stack.project, f"soak-duplicator-{topic}"
        )
        self._subscriber.create_subscription(name=self._subscription, topic=self._topic)
        self._future = self._subscriber.subscribe(self._subscription, self._copy)

    def _copy(self, message: pubsub_v1.subscriber.message.Message) -> None:
        if self.MARK not in message.attributes:
            attributes = {**message.attributes, self.MARK: "1"}
            self._publisher.publish(self._topic, message.data, **attributes).result(60)
            self.copies += 1
        message.ack()

    def close(self) -> None:
        self._future.cancel()
        with contextlib.suppress(Exception):
            self._future.result(timeout=10)
        self._subscriber.delete_subscription(subscription=self._subscription)
        self._subscriber.close()
        self._publisher.stop()
