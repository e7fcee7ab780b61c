"""The input of a load run, the same for every run with the same seed.

A fault-free run and a run with faults must see identical input for their results to be
comparable: the same devices (ids derived from the seed), the same recordings (the
demo's dialogues laid at seeded moments into shop noise) on the same time line.
`prepare` makes it once, for both runs.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

from devkit import evaluation, synth
from devkit.paths import DEMO_AUDIO, DEMO_TRUTH
from devkit.soak.devices import encode
from devkit.soak.options import Options
from salescontrol import audio

RATE = audio.RATE
EDGE_SEC = 30.0  # quiet at both ends: every dialogue is closed by evidence of silence
GAP_SEC = (30.0, 240.0)  # quiet between two dialogues; above SILENCE_GAP_SEC (12 s)
NOISE_DB = -38.0  # the demo's background level
RECORDINGS = 4  # distinct recordings, shared round-robin by the devices


@dataclass(frozen=True)
class Device:
    device_id: str
    point_id: str
    register_id: str
    index: int

    def identity(self) -> dict[str, str]:
        """The admin API's registration body."""
        return {
            "device_id": self.device_id,
            "point_id": self.point_id,
            "register_id": self.register_id,
            "point_name": f"soak point {self.index}",
        }


def devices(count: int, seed: int) -> list[Device]:
    """`count` devices with ids derived from `seed` (a point and a register each)."""
    rng = random.Random(f"devices-{seed}")

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    return [Device(new_id(), new_id(), new_id(), i) for i in range(count)]


@cache
def demo_dialogues() -> tuple[np.ndarray, ...]:
    """The bundled demo's dialogues as audio clips (with their own background)."""
    recording = audio.decode(DEMO_AUDIO.read_bytes())
    truth = evaluation.load_truth(DEMO_TRUTH)
    pad = int(0.5 * RATE)
    return tuple(
        recording[max(0, int(d.start * RATE) - pad) : int(d.end * RATE) + pad]
        for d in truth.dialogues
    )


def recording(path: Path, minutes: float, seed: int) -> tuple[Path, int]:
    """Write `minutes` of shop noise with demo dialogues at seeded moments to `path`
    (16 kHz FLAC); return the path and how many dialogues it holds."""
    rng = random.Random(f"recording-{seed}")
    total = int(minutes * 60 * RATE)
    loop = synth.shop_noise(60.0, level_db=NOISE_DB, seed=rng.getrandbits(31))
    out = np.tile(loop, total // len(loop) + 1)[:total].copy()
    clips = demo_dialogues()
    at, placed = int(EDGE_SEC * RATE), 0
    while True:
        clip = clips[rng.randrange(len(clips))]
        if at + len(clip) > total - int(EDGE_SEC * RATE):
            break
        out[at : at + len(clip)] = clip
        placed += 1
        at += len(clip) + int(rng.uniform(*GAP_SEC) * RATE)
    sf.write(path, out, RATE, format="FLAC")
    return path, placed


@dataclass(frozen=True)
class Input:
    """What both runs replay: devices, their chunks, the time line, the bad device."""

    devices: list[Device]
    chunks: dict[str, list[Path]]  # device id -> its recording's encoded chunks
    dialogues_laid: int
    start: datetime  # where every device's recording begins
    bad_device: Device
    encode_sec: float


def prepare(options: Options, workdir: Path, echo: Callable[[str], None]) -> Input:
    """Devices from the seed; a few distinct recordings, each encoded into chunks once by
    the recorder and shared round-robin by the devices."""
    everyone = devices(options.devices + 1, options.seed)
    kinds = min(options.devices, RECORDINGS)
    # The time line ends an hour ago: nothing lies in the future, and the bad chunks fit
    # before the recordings.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=options.minutes + 60)
    began = time.monotonic()
    recorded: dict[int, tuple[list[Path], int]] = {}

    def make(k: int) -> None:
        folder = workdir / "recordings" / str(k)
        folder.mkdir(parents=True, exist_ok=True)
        path, laid = recording(folder / "shop.flac", options.minutes, options.seed * 100 + k)
        chunks = encode(path, folder, start, options.chunk_sec, options.timeout_sec)
        recorded[k] = (chunks, laid)

    threads = [threading.Thread(target=make, args=(k,)) for k in range(kinds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(recorded) != kinds:
        raise RuntimeError("encoding a recording failed; see the lines above")
    chunks = {d.device_id: recorded[d.index % kinds][0] for d in everyone[:-1]}
    laid = sum(recorded[d.index % kinds][1] for d in everyone[:-1])
    encode_sec = time.monotonic() - began
    echo(
        f"soak: {kinds} recordings of {options.minutes} min encoded by the recorder in "
        f"{encode_sec:.0f} s; {options.devices} devices, {laid} dialogues laid"
    )
    return Input(everyone[:-1], chunks, laid, start, everyone[-1], round(encode_sec, 1))
