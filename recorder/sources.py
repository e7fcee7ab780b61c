"""Audio sources: blocks of 16 kHz mono float32 samples, each with its first sample's time.

`Microphone` wraps a sounddevice input stream; `Replay` plays a recording file, at real
time or faster, on a chosen time line. Both hand blocks to a callback and raise
`SourceError` when the device is gone, so the capture loop can log, retry and report it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf

BLOCK_SEC = 0.5


@dataclass(frozen=True)
class Block:
    samples: np.ndarray  # float32, mono
    started_at: datetime  # UTC time of the first sample


Sink = Callable[[Block], None]


class SourceError(Exception):
    """The audio device failed or is missing; the capture loop retries."""


class Microphone:
    """The default (or named) input device through sounddevice/PortAudio."""

    live = True  # follows the wall clock, so the schedule window applies

    def __init__(self, sample_rate: int = 16000, device: str | int | None = None) -> None:
        self.sample_rate, self.device = sample_rate, device

    def run(self, sink: Sink, stop: threading.Event) -> None:
        """Stream blocks into `sink` until `stop` is set; SourceError when the device fails."""
        try:
            import sounddevice  # lazily: PortAudio is needed only for a real microphone
        except OSError as exc:
            hint = "PortAudio is missing (apt-get install libportaudio2)"
            raise SourceError(f"{hint}: {exc}") from exc
        failure: list[str] = []

        def callback(indata: np.ndarray, frames: int, at: object, status: object) -> None:
            # the block ends now; its first sample was taken `frames` samples ago
            started = datetime.now(UTC) - timedelta(seconds=frames / self.sample_rate)
            sink(Block(indata[:, 0].astype(np.float32, copy=True), started))

        def finished() -> None:
            if not stop.is_set():
                failure.append("the input stream stopped (device unplugged?)")

        try:
            with sounddevice.InputStream(
                samplerate=self.sample_rate,
                channels=1,
                dtype="float32",
                blocksize=int(self.sample_rate * BLOCK_SEC),
                device=self.device,
                callback=callback,
                finished_callback=finished,
            ) as stream:
                while not stop.wait(0.5):
                    if failure or not stream.active:
                        raise SourceError(failure[0] if failure else "the input stream stopped")
        except (sounddevice.PortAudioError, ValueError) as exc:  # ValueError: no such device
            raise SourceError(str(exc)) from exc


class Replay:
    """A recording file played as if a microphone heard it, from `start` on the time line.

    `speed` 1 is real time, 10 ten times faster, 0 as fast as the encoder goes. Without
    `start`, a real-time replay begins now; a faster one ends now (so no chunk lies in
    the future, which the ingest API would refuse).
    """

    live = False

    def __init__(
        self,
        path: Path | str,
        speed: float = 1.0,
        start: datetime | None = None,
        sample_rate: int = 16000,
    ) -> None:
        self.path, self.speed, self.sample_rate = Path(path), speed, sample_rate
        info = sf.info(self.path)  # fails early, naming the file, if it is not audio
        self.duration_sec = info.frames / info.samplerate
        if start is None:
            now = datetime.now(UTC)
            start = now if speed == 1 else now - timedelta(seconds=self.duration_sec)
        if start.tzinfo is None:
            raise ValueError("start must carry a time zone")
        self.start = start.astimezone(UTC)
        self.done = threading.Event()

    def run(self, sink: Sink, stop: threading.Event) -> None:
        """Feed the whole file (paced by `speed`) unless `stop` is set first."""
        began, offset = time.monotonic(), 0
        for samples in _mono_blocks(self.path, self.sample_rate):
            if self.speed > 0:
                due = began + offset / self.sample_rate / self.speed
                if stop.wait(max(0.0, due - time.monotonic())):
                    return
            elif stop.is_set():
                return
            sink(Block(samples, self.start + timedelta(seconds=offset / self.sample_rate)))
            offset += len(samples)
        self.done.set()


def _mono_blocks(path: Path, sample_rate: int) -> Iterator[np.ndarray]:
    """The file in BLOCK_SEC blocks of float32 mono at `sample_rate`, read as it goes.

    A file at another rate is read whole and resampled linearly (fine for test input);
    one at the right rate is streamed, so hours of audio need little memory.
    """
    step = int(sample_rate * BLOCK_SEC)
    with sf.SoundFile(path) as file:
        if file.samplerate == sample_rate:
            for block in file.blocks(step, dtype="float32", always_2d=True):
                yield block.mean(axis=1, dtype=np.float32)
            return
        mono = file.read(dtype="float32", always_2d=True).mean(axis=1)
        positions = np.arange(0, len(mono), file.samplerate / sample_rate)
        mono = np.interp(positions, np.arange(len(mono)), mono).astype(np.float32)
    for offset in range(0, len(mono), step):
        yield mono[offset : offset + step]
