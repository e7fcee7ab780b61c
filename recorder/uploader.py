"""Outbox -> ingest API -> bucket, oldest first, and the heartbeat.

One chunk at a time: announce it (`POST /api/v1/chunks/upload-url`), PUT it to the signed
URL with exactly the signed headers, then announce it again; once the server answers
"already uploaded" the file moves to sent/. It is deleted only when the server says its
size and sha256 were verified (`action: delete`); every `server.verify_sec` the sent
chunks ask (`POST /api/v1/chunks/status`), and one corrupted on the way (`resend`) goes
back to the outbox to be uploaded again (`give_up`: to failed/). An expired or refused
URL gets a new one. Network trouble and 5xx/429 back off exponentially with jitter;
401/403 keep the files and show in health; a refusal of the chunk itself
(400/409/413) moves it to failed/ with the server's reason.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import soundfile as sf

from recorder.config import Server
from recorder.health import Health
from recorder.spool import ChunkName, Spool

log = logging.getLogger("recorder.uploader")

ANNOUNCE = "/api/v1/chunks/upload-url"
HEARTBEAT = "/api/v1/devices/heartbeat"
STATUS = "/api/v1/chunks/status"
VERDICTS_PER_REQUEST = 100


class Result(enum.Enum):
    DELIVERED = "delivered"  # the server has it; the local file is gone
    RETRY = "retry"  # try again later (network, server busy, 5xx)
    UNAUTHORIZED = "unauthorized"  # 401/403: keep everything, a person must act
    REFUSED = "refused"  # the server refuses this chunk for good -> failed/
    ANSWERED = "answered"  # an announcement got a 2xx answer (in `body`)


@dataclass
class _Answer:
    result: Result
    detail: str = ""
    body: dict[str, Any] | None = None


def backoff(failures: int, initial: float, maximum: float) -> float:
    """Exponential backoff with jitter: about initial * 2^(failures-1), within bounds."""
    cap = min(maximum, initial * 2 ** max(0, failures - 1))
    return max(initial, cap * random.uniform(0.5, 1.0))


class Uploader:
    """Drains the outbox to the server on its own thread."""

    def __init__(self, server: Server, spool: Spool, health: Health) -> None:
        self.server, self.spool, self.health = server, spool, health
        self.session = requests.Session()
        # only for the ingest API: the signed URL carries its own authority, and the
        # bucket must neither see the device token nor get two kinds of credentials
        self.auth = {"Authorization": f"Bearer {server.token}"}
        self.stop = threading.Event()
        self.wake = threading.Event()  # set when a new chunk lands in the outbox
        self._thread = threading.Thread(target=self.run, name="uploader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.wake.set()
        self._thread.join(timeout)
        self.session.close()  # its keep-alive connections would otherwise outlive the agent

    def run(self) -> None:
        failures = 0
        next_check = 0.0
        while not self.stop.is_set():
            if time.monotonic() >= next_check and self.spool.unverified():
                self.check_sent()
                next_check = time.monotonic() + self.server.verify_sec
            pending = self.spool.pending()
            if not pending:
                self.wake.wait(min(1.0, max(0.05, next_check - time.monotonic())))
                self.wake.clear()
                continue
            path = pending[0]
            answer = self.upload(path)
            if answer.result in (Result.DELIVERED, Result.REFUSED):
                failures = 0
                continue
            failures += 1
            delay = backoff(failures, self.server.retry_initial_sec, self.server.retry_max_sec)
            log.warning(
                "upload failed; will retry",
                extra={"file": path.name, "error": answer.detail, "retry_sec": round(delay, 2)},
            )
            self.stop.wait(delay)

    def upload(self, path: Path) -> _Answer:
        """Deliver one outbox chunk; the file is deleted or moved unless the answer is retry."""
        name = ChunkName.parse(path.name)
        assert name is not None, path
        ids = {"chunk_id": str(name.chunk_id)}
        try:
            data = path.read_bytes()
            info = sf.info(path)
        except FileNotFoundError:
            return _Answer(Result.DELIVERED, "deleted meanwhile (retention)")
        except (sf.LibsndfileError, RuntimeError) as exc:
            return self._refused(path, name, f"not a readable opus file: {exc}")
        body = {
            "chunk_id": str(name.chunk_id),
            "started_at": name.started_at.isoformat(),
            "duration_sec": round(info.frames / info.samplerate, 3),
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "codec": "opus",
            "sample_rate": info.samplerate,
        }
        answer = self._deliver(body, data)
        if answer.result is Result.DELIVERED:
            log.info("chunk uploaded", extra={**ids, "detail": answer.detail})
            self._record("ok", name, detail=answer.detail)
            self._act(path, name, answer.body or {})
        elif answer.result is Result.REFUSED:
            self._refused(path, name, answer.detail, answer.body)
        elif answer.result is Result.UNAUTHORIZED:
            self.health.update(auth_error=answer.detail)
            self._record("unauthorized", name, error=answer.detail)
        else:
            self.health.add(upload_failures=1)
            self._record("error", name, error=answer.detail)
        return answer

    def _deliver(self, body: dict[str, Any], data: bytes) -> _Answer:
        for _ in range(2):  # a second signed URL when the first expired or was refused
            answer = self._announce(body)
            if answer.result is not Result.ANSWERED or answer.body is None:
                return answer
            if answer.body.get("already_uploaded"):
                return _Answer(Result.DELIVERED, "already uploaded", answer.body)
            # used at once; the Pi's clock may be off, so its expiry is judged by the bucket
            upload = answer.body["upload"]
            put = self._call(
                upload.get("method", "PUT"), upload["url"], data=data, headers=upload["headers"]
            )
            if isinstance(put, _Answer):
                return put
            # 412: the object exists already (signed with if-generation-match: 0)
            if put.ok or put.status_code == 412:
                confirm = self._announce(body)
                if confirm.body and confirm.body.get("already_uploaded"):
                    return _Answer(Result.DELIVERED, "uploaded", confirm.body)
                if confirm.result is not Result.ANSWERED:
                    return confirm
                return _Answer(Result.RETRY, "the server does not see the upload yet")
            # an expired or otherwise refused signature: 400 ExpiredToken, 401, 403
            if put.status_code not in (400, 401, 403):
                return _Answer(Result.RETRY, f"PUT answered {put.status_code}")
            log.info("signed URL refused; asking for a new one", extra={"status": put.status_code})
        return _Answer(Result.RETRY, "the signed upload URL was refused twice")

    def _act(self, path: Path, name: ChunkName, verdict: dict[str, Any]) -> None:
        """Do what the server says with an uploaded chunk's file (an older server that
        says nothing has verified nothing either: the file is kept until it does)."""
        action = verdict.get("action", "wait")
        if action == "delete":
            self.health.add(uploaded=1)  # before the spool empties: drained means counted
            self.spool.remove(path)
        elif action == "resend":
            self.health.add(resent=1)
            self.spool.move(path, self.spool.outbox)
            log.warning("server asks for the chunk again", extra={"chunk_id": str(name.chunk_id)})
        elif action == "give_up":
            self._refused(path, name, f"server gave up: {verdict.get('error')}", verdict)
        elif path.parent != self.spool.sent:
            self.spool.move(path, self.spool.sent)

    def check_sent(self) -> None:
        """Ask the server's verdict on the oldest sent chunks and act on each answer."""
        paths = {}
        for path in self.spool.unverified()[:VERDICTS_PER_REQUEST]:
            name = ChunkName.parse(path.name)
            assert name is not None
            paths[str(name.chunk_id)] = (path, name)
        response = self._call(
            "POST", self.server.url + STATUS, json={"chunk_ids": list(paths)}, headers=self.auth
        )
        if not isinstance(response, requests.Response) or not response.ok:
            if isinstance(response, requests.Response) and response.status_code in (401, 403):
                self.health.update(auth_error=f"chunk status answered {response.status_code}")
            return
        try:
            verdicts = response.json()["chunks"]
        except (ValueError, KeyError, TypeError):
            return
        for verdict in verdicts:
            if isinstance(verdict, dict) and verdict.get("chunk_id") in paths:
                path, name = paths[verdict["chunk_id"]]
                if path.exists():  # retention may have deleted it meanwhile
                    self._act(path, name, verdict)

    def _announce(self, body: dict[str, Any]) -> _Answer:
        response = self._call("POST", self.server.url + ANNOUNCE, json=body, headers=self.auth)
        if isinstance(response, _Answer):
            return response
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {"message": response.text[:200]}
        message = f"{response.status_code} {payload.get('error', '')}: {payload.get('message', '')}"
        if response.status_code in (200, 201) and "already_uploaded" in payload:
            if self.health.auth_error:
                self.health.update(auth_error=None)
                log.info("the server accepts this device again")
            return _Answer(Result.ANSWERED, body=payload)
        if response.status_code in (401, 403):
            return _Answer(Result.UNAUTHORIZED, message.strip())
        if response.status_code in (400, 409, 413, 422):
            return _Answer(Result.REFUSED, message.strip(), payload)
        return _Answer(Result.RETRY, message.strip())

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response | _Answer:
        try:
            return self.session.request(method, url, timeout=self.server.timeout_sec, **kwargs)
        except requests.RequestException as exc:
            return _Answer(Result.RETRY, f"{type(exc).__name__}: {exc}")

    def _refused(
        self, path: Path, name: ChunkName, reason: str, server: dict | None = None
    ) -> _Answer:
        details = {"chunk_id": name.chunk_id, "server": server} if server else {}
        self.spool.fail(path, reason, **details)
        self.health.add(moved_to_failed=1)
        self._record("refused", name, error=reason)
        return _Answer(Result.REFUSED, reason)

    def _record(self, result: str, name: ChunkName, **extra: Any) -> None:
        self.health.update(
            last_upload={
                "at": datetime.now(UTC).isoformat(),
                "result": result,
                "chunk_id": str(name.chunk_id),
                "started_at": name.started_at.isoformat(),
                **extra,
            }
        )

    def heartbeat(self, report: dict[str, Any]) -> bool:
        """Send a health report; True when the server took it."""
        response = self._call("POST", self.server.url + HEARTBEAT, json=report, headers=self.auth)
        ok = isinstance(response, requests.Response) and response.ok
        result = "ok" if ok else getattr(response, "status_code", None) or response.detail
        self.health.update(last_heartbeat={"at": datetime.now(UTC).isoformat(), "result": result})
        if isinstance(response, requests.Response) and response.status_code in (401, 403):
            self.health.update(auth_error=f"heartbeat answered {response.status_code}")
        return ok


def every(interval: float, action: Callable[[], object], stop: threading.Event) -> threading.Thread:
    """A daemon thread running `action` now and then every `interval` seconds until `stop`."""

    def loop() -> None:
        while not stop.is_set():
            try:
                action()
            except Exception:
                name = getattr(action, "__name__", "")
                log.exception("periodic task failed", extra={"task": name})
            stop.wait(interval)

    thread = threading.Thread(target=loop, name=getattr(action, "__name__", "every"), daemon=True)
    thread.start()
    return thread
