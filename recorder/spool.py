"""The spool: `inbox/` (chunks being written), `outbox/` (waiting to upload), `sent/`
(uploaded, kept until the server has checked their hash), `failed/`.

A chunk's file name carries its identity, so no crash can give the same audio a second
`chunk_id`: `chunk_20261125T080000.000Z_<chunk_id>.ogg` (UTC time of the first sample).
Names sort by time, so a directory listing is oldest first. Files move between the
directories only by rename after fsync, so a power cut leaves each one whole in one place.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger("recorder.spool")

PARTIAL = ".part"
REASON = ".reason.json"
_NAME = re.compile(r"^chunk_(\d{8}T\d{6}\.\d{3}Z)_([0-9a-f-]{36})\.ogg$")
_TIME = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class ChunkName:
    """What a chunk file's name says: when its first sample was taken, and its id."""

    started_at: datetime
    chunk_id: uuid.UUID

    @classmethod
    def new(cls, started_at: datetime) -> ChunkName:
        # the name keeps milliseconds; round now so the name and the announcement agree
        at = started_at.astimezone(UTC)
        return cls(at.replace(microsecond=at.microsecond // 1000 * 1000), uuid.uuid4())

    @classmethod
    def parse(cls, filename: str) -> ChunkName | None:
        match = _NAME.match(filename.removesuffix(PARTIAL))
        if not match:
            return None
        at = datetime.strptime(match[1], _TIME).replace(tzinfo=UTC)
        return cls(at, uuid.UUID(match[2]))

    @property
    def filename(self) -> str:
        stamp = self.started_at.strftime(_TIME)[:-4] + "Z"  # microseconds -> milliseconds
        return f"chunk_{stamp}_{self.chunk_id}.ogg"


def fsync(path: Path | str) -> None:
    """Flush a file's data, or a directory's renames and unlinks, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The three spool directories and every move between them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.inbox, self.outbox, self.sent, self.failed = (
            self.root / d for d in ("inbox", "outbox", "sent", "failed")
        )

    def create(self) -> None:
        for directory in (self.inbox, self.outbox, self.sent, self.failed):
            directory.mkdir(parents=True, exist_ok=True)

    def partial_path(self, name: ChunkName) -> Path:
        return self.inbox / (name.filename + PARTIAL)

    def publish(self, partial: Path) -> Path:
        """Move a finished, fsynced partial file into the outbox (atomic)."""
        return self.publish_as(partial, partial.name.removesuffix(PARTIAL))

    def publish_as(self, source: Path, filename: str) -> Path:
        """Move a finished, fsynced inbox file into the outbox as `filename` (atomic)."""
        target = self.outbox / filename
        os.replace(source, target)
        fsync(self.outbox)
        fsync(self.inbox)
        return target

    def pending(self) -> list[Path]:
        """Chunks waiting to upload, oldest first."""
        return sorted(p for p in self.outbox.iterdir() if ChunkName.parse(p.name))

    def unverified(self) -> list[Path]:
        """Uploaded chunks waiting for the server's hash check, oldest first."""
        return sorted(p for p in self.sent.iterdir() if ChunkName.parse(p.name))

    def move(self, path: Path, directory: Path) -> Path:
        """Move a chunk between outbox and sent (atomic, durable)."""
        target = directory / path.name
        os.replace(path, target)
        fsync(directory)
        fsync(path.parent)
        return target

    def partials(self) -> list[Path]:
        return sorted(self.inbox.glob("*" + PARTIAL))

    def fail(self, path: Path, reason: str, **details: object) -> Path:
        """Move a chunk to failed/ with a sidecar saying why (kept, never silently dropped)."""
        target = self.failed / path.name.removesuffix(PARTIAL)
        sidecar = target.with_name(target.name + REASON)
        note = {"reason": reason, "failed_at": datetime.now(UTC).isoformat(), **details}
        sidecar.write_text(json.dumps(note, ensure_ascii=False, default=str) + "\n")
        os.replace(path, target)
        fsync(self.failed)
        log.warning(
            "chunk moved to failed",
            extra={
                "file": target.name,
                "reason": reason,
                **{k: str(v) for k, v in details.items()},
            },
        )
        return target

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        path.with_name(path.name + REASON).unlink(missing_ok=True)

    def usage(self) -> dict[str, int]:
        """Files and bytes in outbox and failed."""
        out = [p.stat().st_size for p in self.pending()]
        sent = [p.stat().st_size for p in self.unverified()]
        failed = [p.stat().st_size for p in self.failed.iterdir() if p.is_file()]
        return {
            "outbox_files": len(out),
            "outbox_bytes": sum(out),
            "sent_files": len(sent),
            "sent_bytes": sum(sent),
            "failed_files": sum(1 for p in self.failed.iterdir() if ChunkName.parse(p.name)),
            "failed_bytes": sum(failed),
        }

    def disk_free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def enforce_retention(self, max_age: timedelta, max_bytes: int) -> list[Path]:
        """Delete the oldest chunks of outbox, sent and failed beyond the age and size
        limits."""
        chunks = []
        for directory in (self.outbox, self.sent, self.failed):
            for path in directory.iterdir():
                name = ChunkName.parse(path.name)
                if name:
                    sidecar = path.with_name(path.name + REASON)
                    size = path.stat().st_size + (sidecar.stat().st_size if sidecar.exists() else 0)
                    chunks.append((name.started_at, path, size))
        chunks.sort()
        total = sum(size for _, _, size in chunks)
        oldest_kept = datetime.now(UTC) - max_age
        deleted = []
        for started_at, path, size in chunks:
            too_old = started_at < oldest_kept
            if not too_old and total <= max_bytes:
                break
            self.remove(path)
            total -= size
            deleted.append(path)
            log.warning(
                "chunk deleted by retention",
                extra={
                    "file": path.name,
                    "directory": path.parent.name,
                    "why": "max_age_days" if too_old else "max_size_gb",
                    "bytes": size,
                },
            )
        return deleted
