"""The agent: salvage on start, then capture, upload, heartbeat, retention and health.

with Agent(config, source=Replay("shop.ogg", speed=10)) as agent:
    agent.wait_drained(timeout=60)
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

from recorder.capture import Capture
from recorder.config import Config
from recorder.health import Health, HealthServer
from recorder.sources import Microphone, Replay
from recorder.spool import ChunkName, Spool
from recorder.uploader import Uploader, every
from recorder.writer import ChunkWriter, salvage

log = logging.getLogger("recorder.agent")

RETENTION_EVERY_SEC = 60.0


class Agent:
    """One recorder: `record` and `upload` can be turned off (e.g. to only drain the spool)."""

    def __init__(
        self,
        config: Config,
        source: Microphone | Replay | None = None,
        record: bool = True,
        upload: bool = True,
    ) -> None:
        self.config = config
        rec = config.recording
        self.spool = Spool(config.storage.spool_dir)
        self.health = Health(config.device_id, self.spool)
        self.uploader = Uploader(config.server, self.spool, self.health) if upload else None
        self.capture = None
        if not record:
            self.health.update(recording="off")
        else:
            writer = ChunkWriter(
                self.spool, rec.chunk_duration_sec, rec.sample_rate, rec.bitrate, self._on_chunk
            )
            self.capture = Capture(
                source or Microphone(rec.sample_rate),
                writer,
                self.health,
                (rec.schedule_start, rec.schedule_end),
                rec.zone(),
            )
        self.health_server = None
        if config.healthcheck.enabled:
            self.health_server = HealthServer(
                self.health, config.healthcheck.host, config.healthcheck.port
            )
        self._stop = threading.Event()
        self._periodic: list[threading.Thread] = []
        self._retention_lock = threading.Lock()

    @property
    def health_port(self) -> int | None:
        return self.health_server.port if self.health_server else None

    def start(self) -> Agent:
        self.spool.create()
        rec = self.config.recording
        salvaged, failed = salvage(self.spool, rec.sample_rate, rec.bitrate)
        self.health.add(salvaged=len(salvaged), moved_to_failed=len(failed))
        self.enforce_retention()
        if self.health_server:
            self.health_server.start()
        if self.uploader:
            self.uploader.start()
            self._periodic.append(
                every(self.config.server.heartbeat_sec, self._heartbeat, self._stop)
            )
        self._periodic.append(every(RETENTION_EVERY_SEC, self.enforce_retention, self._stop))
        if self.capture:
            self.capture.start()
        log.info(
            "recorder started",
            extra={
                "spool_dir": str(self.spool.root),
                "recording": bool(self.capture),
                "uploading": bool(self.uploader),
                "health_port": self.health_port,
            },
        )
        return self

    def close(self) -> None:
        """Finish the chunk being written, stop uploading, stop serving health."""
        self._stop.set()
        for thread in self._periodic:  # a heartbeat in flight must end before its session
            thread.join(timeout=self.config.server.timeout_sec)
        self._periodic.clear()
        if self.capture:
            self.capture.close()
        if self.uploader:
            self.uploader.close()
        if self.health_server:
            self.health_server.stop()
        log.info("recorder stopped")

    def __enter__(self) -> Agent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_drained(self, timeout: float) -> bool:
        """Wait until the source has ended and (when uploading) the outbox is empty and
        the server has verified every uploaded chunk."""
        deadline = time.monotonic() + timeout
        while True:
            recorded = self.capture is None or self.capture.finished.is_set()
            spooled = self.uploader and (self.spool.pending() or self.spool.unverified())
            if recorded and not spooled:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def enforce_retention(self) -> None:
        storage = self.config.storage
        with self._retention_lock:
            deleted = self.spool.enforce_retention(
                timedelta(days=storage.max_age_days), storage.max_bytes
            )
        if deleted:
            self.health.add(retention_deleted=len(deleted))

    def _on_chunk(self, path: Path, name: ChunkName, duration: float) -> None:
        self.health.add(chunks_recorded=1)
        self.health.update(
            last_chunk={
                "chunk_id": str(name.chunk_id),
                "started_at": name.started_at.isoformat(),
                "duration_sec": duration,
                "bytes": path.stat().st_size,
            }
        )
        self.enforce_retention()
        if self.uploader:
            self.uploader.wake.set()

    def _heartbeat(self) -> None:
        report = self.health.snapshot()
        report["point_id"], report["register_id"] = self.config.point_id, self.config.register_id
        self.uploader.heartbeat(report)
