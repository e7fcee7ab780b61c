"""Helpers of the recorder tests: configs, test audio, a TCP proxy that can go down."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests
import soundfile as sf
import yaml

from devkit.waiting import poll_until
from recorder import config as recorder_config

RATE = 16000


def write_config(path: Path, spool: Path, server_url: str, token: str, **overrides: Any) -> Path:
    """A recorder config.yaml for tests: short chunks, quick retries, dynamic health port."""
    data: dict[str, Any] = {
        "device_id": str(uuid.uuid4()),
        "point_id": str(uuid.uuid4()),
        "register_id": str(uuid.uuid4()),
        "server": {
            "url": server_url,
            "token": token,
            "timeout_sec": 5,
            "retry_initial_sec": 0.2,
            "retry_max_sec": 1,
            "heartbeat_sec": 1,
            "verify_sec": 0.5,
        },
        "recording": {"chunk_duration_sec": 3, "schedule_start": "00:00", "schedule_end": "00:00"},
        "storage": {"spool_dir": str(spool), "max_age_days": 7, "max_size_gb": 1},
        "logging": {"level": "INFO", "format": "json"},
        "healthcheck": {"enabled": True, "port": 0, "host": "127.0.0.1"},
    }
    for dotted, value in overrides.items():
        *parents, key = dotted.split("__")
        node = data
        for parent in parents:
            node = node.setdefault(parent, {})
        node[key] = value
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def load(path: Path) -> recorder_config.Config:
    return recorder_config.load(path)


def tone_file(path: Path, seconds: float) -> Path:
    """A warbling tone with a little noise (opus-friendly, not silence)."""
    t = np.arange(int(RATE * seconds)) / RATE
    rng = np.random.default_rng(7)
    audio = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    audio += 0.01 * rng.standard_normal(len(t))
    sf.write(path, audio.astype("float32"), RATE)
    return path


def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    return poll_until(check, timeout, interval=0.1, message=what or None)


def health(port: int) -> dict:
    return requests.get(f"http://127.0.0.1:{port}/health", timeout=5).json()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """A TCP forwarder to the ingest function that can be taken down and brought back."""

    def __init__(self, target: str) -> None:
        host, _, port = target.split("://", 1)[-1].split("/", 1)[0].partition(":")
        self.target = (host, int(port))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut open ones (the network is gone)."""
        if self._listener:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            source.close()


class ExpiringBucket:
    """An HTTP front for ingest whose first signed PUT answers like GCS for an expired URL
    (and, with `corrupt`, whose next PUTs reach the bucket damaged).

    fake-gcs-server ignores expiry, so this stands in for that one answer: announcements
    go to the real ingest function (their upload URLs are rewritten to point here), and
    every PUT after the first is forwarded to the real fake-gcs-server.
    """

    EXPIRED = b"<Error><Code>ExpiredToken</Code><Message>Invalid argument.</Message></Error>"
    _HOP = frozenset({"host", "content-length", "connection", "accept-encoding"})

    def __init__(self, ingest_url: str, refuse: int = 1, corrupt: int = 0) -> None:
        self.ingest, self.refuse, self.bucket = ingest_url.rstrip("/"), refuse, ""
        self.corrupt = corrupt  # forwarded PUTs whose body gets one byte flipped on the way
        self.announcements = 0
        self.puts: list[int] = []
        self.put_headers: list[set[str]] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def _headers(self) -> dict[str, str]:
                return {k: v for k, v in self.headers.items() if k.lower() not in front._HOP}

            def _send(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                front.announcements += self.path.endswith("/upload-url")
                answer = requests.post(
                    front.ingest + self.path, data=self._body(), headers=self._headers(), timeout=30
                )
                payload = answer.json()
                if "upload" in payload:
                    url = urlsplit(payload["upload"]["url"])
                    front.bucket = f"{url.scheme}://{url.netloc}"
                    payload["upload"]["url"] = url._replace(netloc=front.netloc).geturl()
                self._send(answer.status_code, json.dumps(payload).encode(), "application/json")

            def do_PUT(self) -> None:
                body = self._body()
                front.put_headers.append({k.lower() for k in self.headers})
                if len(front.puts) < front.refuse:
                    front.puts.append(400)
                    self._send(400, front.EXPIRED, "application/xml")
                    return
                if front.corrupt > 0:
                    front.corrupt -= 1
                    body = body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
                answer = requests.put(
                    front.bucket + self.path, data=body, headers=self._headers(), timeout=30
                )
                front.puts.append(answer.status_code)
                self._send(answer.status_code, answer.content, "application/xml")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.netloc = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.netloc}"

    def __enter__(self) -> ExpiringBucket:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
