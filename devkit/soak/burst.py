"""Every device asks for upload URLs as fast as it can, all at once: how much ingest
serves, and that the per-device rate limit answers 429, never 5xx."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from devkit.soak.measure import percentiles


def upload_url_burst(ingest_url: str, tokens: list[str], seconds: float = 10.0) -> dict[str, Any]:
    """Requests per second, grants per second, answers by status and latency (ms)."""
    url = ingest_url + "/api/v1/chunks/upload-url"
    started = datetime.now(UTC) - timedelta(hours=1)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def announce(session: requests.Session) -> None:
        # A well-formed announcement with no file behind it: load on ingest alone.
        chunk_id = str(uuid.uuid4())
        body = {
            "chunk_id": chunk_id,
            "started_at": started.isoformat(),
            "duration_sec": 60.0,
            "size_bytes": 180_000,
            "sha256": hashlib.sha256(chunk_id.encode()).hexdigest(),
        }
        t0 = time.monotonic()
        answer = session.post(url, json=body, timeout=30)
        with lock:
            latencies.append(time.monotonic() - t0)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    def device_loop(token: str) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while time.monotonic() < deadline:
                announce(session)

    threads = [threading.Thread(target=device_loop, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "devices": len(tokens),
        "seconds": seconds,
        "requests_per_sec": round(len(latencies) / seconds, 1),
        "granted_per_sec": round(statuses.get(201, 0) / seconds, 1),
        "by_status": dict(sorted(statuses.items())),
        "latency_ms": percentiles([x * 1000 for x in latencies], 0),
    }
