"""Blocks of audio -> opus chunk files of `chunk_duration_sec`.

A chunk is written as `inbox/<name>.part`, closed, fsynced and renamed into `outbox/`
in one step, so the outbox only ever holds whole chunks. A gap in the time line (the
microphone came back, the schedule window reopened) starts a new chunk, so each chunk's
samples are contiguous from its `started_at`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import soundfile as sf

from recorder.sources import Block
from recorder.spool import ChunkName, Spool, fsync

log = logging.getLogger("recorder.writer")

MAX_GAP_SEC = 1.0  # a jump in block times larger than this starts a new chunk


def compression_level(bitrate: int) -> float:
    """libsndfile's opus compression level for a target bitrate (0 = 256k ... 1 = 6k)."""
    return min(1.0, max(0.0, 1.0 - (bitrate - 6000) / 250000))


def encoder(path: Path, sample_rate: int, bitrate: int) -> sf.SoundFile:
    """An opus-in-ogg file open for writing at about `bitrate` bits per second."""
    return sf.SoundFile(
        path,
        "w",
        samplerate=sample_rate,
        channels=1,
        format="OGG",
        subtype="OPUS",
        compression_level=compression_level(bitrate),
    )


def close_durably(file: sf.SoundFile) -> None:
    """Close an encoder and fsync its file, so a rename afterwards is power-cut safe."""
    file.close()
    fsync(file.name)


class ChunkWriter:
    """Cuts a stream of blocks into chunk files; `on_chunk` hears of each finished one."""

    def __init__(
        self,
        spool: Spool,
        chunk_sec: float,
        sample_rate: int = 16000,
        bitrate: int = 24000,
        on_chunk: Callable[[Path, ChunkName, float], None] = lambda *_: None,
    ) -> None:
        self.spool, self.sample_rate, self.bitrate = spool, sample_rate, bitrate
        self.chunk_frames = round(chunk_sec * sample_rate)
        self.on_chunk = on_chunk
        self._file: sf.SoundFile | None = None
        self._name: ChunkName | None = None
        self._frames = 0

    @property
    def writing(self) -> ChunkName | None:
        return self._name

    def write(self, block: Block) -> None:
        """Append a block, finishing chunks at their length and at gaps in the time line."""
        samples, at = block.samples, block.started_at
        if self._name is not None:
            expected = self._name.started_at + timedelta(seconds=self._frames / self.sample_rate)
            if abs((at - expected).total_seconds()) > MAX_GAP_SEC:
                self.finish()
        while len(samples):
            if self._file is None:
                self._open(at)
            room = self.chunk_frames - self._frames
            part, samples = samples[:room], samples[room:]
            self._file.write(np.asarray(part, dtype=np.float32))
            self._frames += len(part)
            at += timedelta(seconds=len(part) / self.sample_rate)
            if self._frames >= self.chunk_frames:
                self.finish()

    def finish(self) -> Path | None:
        """Close the chunk being written (if any) and move it to the outbox."""
        if self._file is None or self._name is None:
            return None
        file, name, frames = self._file, self._name, self._frames
        self._file, self._name, self._frames = None, None, 0
        close_durably(file)
        path = self.spool.publish(Path(file.name))
        duration = frames / self.sample_rate
        log.info(
            "chunk recorded",
            extra={
                "chunk_id": str(name.chunk_id),
                "started_at": name.started_at.isoformat(),
                "duration_sec": duration,
                "bytes": path.stat().st_size,
            },
        )
        self.on_chunk(path, name, duration)
        return path

    def _open(self, at) -> None:
        self._name = ChunkName.new(at)
        self._file = encoder(self.spool.partial_path(self._name), self.sample_rate, self.bitrate)
        self._frames = 0


def salvage(spool: Spool, sample_rate: int, bitrate: int) -> tuple[list[Path], list[Path]]:
    """Rescue the partial chunks a crash left in the inbox: (salvaged, failed).

    A partial file keeps its name (so its `chunk_id`); what can be decoded is re-encoded
    into a well-formed chunk in the outbox, and the rest goes to failed/ with the reason.
    """
    for leftover in spool.inbox.glob("*.salvaging"):
        leftover.unlink()  # a crash during an earlier salvage; its .part is still there
    salvaged, failed = [], []
    for partial in spool.partials():
        name = ChunkName.parse(partial.name)
        if name is None:
            failed.append(spool.fail(partial, "unrecognised file name in the inbox"))
            continue
        if (spool.outbox / name.filename).exists():
            partial.unlink()  # salvaged already; the crash came before this unlink
            continue
        try:
            audio, _ = sf.read(partial, dtype="float32", always_2d=True)
            problem = "" if len(audio) else "no complete audio page"
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            problem = str(exc)
        if problem:
            failed.append(spool.fail(partial, f"partial chunk not decodable: {problem}"))
            continue
        rescued = spool.inbox / (name.filename + ".salvaging")
        file = encoder(rescued, sample_rate, bitrate)
        file.write(audio[:, 0])
        close_durably(file)
        target = spool.publish_as(rescued, name.filename)
        partial.unlink()
        log.warning(
            "partial chunk salvaged after a crash",
            extra={"chunk_id": str(name.chunk_id), "duration_sec": len(audio) / sample_rate},
        )
        salvaged.append(target)
    return salvaged, failed
