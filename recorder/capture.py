"""Source -> queue -> writer, inside the schedule window, retrying a lost microphone.

The source thread only puts blocks on a bounded queue (an audio callback must never
wait on the disk); the writer thread encodes them. Outside the window a live source is
closed; a replay plays its own time line and ignores the window.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, time
from zoneinfo import ZoneInfo

from recorder.health import Health
from recorder.sources import Block, Microphone, Replay
from recorder.writer import ChunkWriter

log = logging.getLogger("recorder.capture")

QUEUE_BLOCKS = 240  # two minutes of 0.5 s blocks: room for a slow SD card write
MIC_RETRY_SEC = (1.0, 30.0)
_FINISH = object()


def in_window(now: datetime, start: time, end: time) -> bool:
    """Whether a local time is inside [start, end); end before start spans midnight."""
    t = now.time()
    if start == end:
        return True
    return start <= t < end if start < end else t >= start or t < end


class _Until:
    """An Event-like stop signal: set by `stop`, or when the window closes (live sources)."""

    def __init__(self, stop: threading.Event, open_now) -> None:
        self.stop, self.open_now = stop, open_now

    def is_set(self) -> bool:
        return self.stop.is_set() or not self.open_now()

    def wait(self, timeout: float) -> bool:
        self.stop.wait(timeout)
        return self.is_set()


class Capture:
    """Runs a source into a ChunkWriter on two threads until `stop` or the source ends."""

    def __init__(
        self,
        source: Microphone | Replay,
        writer: ChunkWriter,
        health: Health,
        schedule: tuple[time, time],
        zone: ZoneInfo | None = None,
    ) -> None:
        self.source, self.writer, self.health = source, writer, health
        self.schedule, self.zone = schedule, zone
        self.live = getattr(source, "live", True)
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_BLOCKS)
        self.stop = threading.Event()
        self.finished = threading.Event()  # the source ended (a replay) and all is written
        self._threads = [
            threading.Thread(target=self._record, name="capture", daemon=True),
            threading.Thread(target=self._write, name="writer", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop, and finish the chunk being written (a shorter chunk, not a lost one)."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def window_open(self) -> bool:
        return in_window(datetime.now(self.zone).astimezone(self.zone), *self.schedule)

    def _sink(self, block: Block) -> None:
        if self.health.microphone_error:
            self.health.update(microphone_error=None, recording="recording")
            log.info("microphone is back")
        if not self.live:
            self.queue.put(block)  # a replay waits for the encoder instead of losing audio
        else:
            try:
                self.queue.put_nowait(block)
            except queue.Full:
                self.health.add(blocks_dropped=1)  # the disk is stalled; keep the callback fast
        self.health.update(capture_queue=self.queue.qsize())

    def _record(self) -> None:
        delay = MIC_RETRY_SEC[0]
        live = self.live
        until = _Until(self.stop, self.window_open if live else lambda: True)
        while not self.stop.is_set():
            if live and not self.window_open():
                if self.health.recording != "outside_schedule":
                    log.info("outside the schedule window; not recording")
                    self.health.update(recording="outside_schedule")
                self.queue.put(_FINISH)
                self.stop.wait(5.0)
                continue
            self.health.update(recording="recording")
            log.info("recording", extra={"source": type(self.source).__name__.lower()})
            try:
                self.source.run(self._sink, until)
                delay = MIC_RETRY_SEC[0]
                if not live:
                    self.queue.put(_FINISH)
                    self.queue.put(None)  # the replay is over: writer finishes and stops
                    if not self.stop.is_set():
                        self.health.update(recording="finished")
                    return
            except Exception as exc:  # SourceError, or a bug: either way retry, never die
                self.health.update(recording="microphone_error", microphone_error=str(exc))
                self.health.add(microphone_retries=1)
                log.warning(
                    "audio source failed; retrying", extra={"error": str(exc), "retry_sec": delay}
                )
                self.queue.put(_FINISH)
                self.stop.wait(delay)
                delay = min(MIC_RETRY_SEC[1], delay * 2)
        self.queue.put(None)

    def _write(self) -> None:
        while True:
            item = self.queue.get()
            self.health.update(capture_queue=self.queue.qsize())
            if item is None:
                break
            try:
                if item is _FINISH:
                    self.writer.finish()
                else:
                    self.writer.write(item)
            except (OSError, RuntimeError) as exc:  # disk full or gone: log, keep running
                self.health.update(writer_error=str(exc))
                log.error("cannot write the chunk", extra={"error": str(exc)})
        self.writer.finish()
        if self.health.recording == "finished":
            self.finished.set()
        else:
            self.health.update(recording="stopped")
