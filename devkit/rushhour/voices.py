"""Voices and rooms for the rush-hour corpus: who speaks, how, and from where.

A voice is an engine (festival's Russian voice, pitch- and tempo-shifted with sox, or an
espeak-ng Russian variant with its own pitch and speed) plus a place: the seller close to
the microphone (loud, dry, full band), customers across the counter (quieter,
reverberant, band-limited by distance), the radio (a small loudspeaker: 300-3400 Hz,
compressed, quiet). Rendered phrases are cached by content hash, like `devkit.synth`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from devkit import synth
from salescontrol.audio import resample

RATE = synth.RATE


@dataclass(frozen=True)
class Voice:
    """How one person sounds at the microphone."""

    name: str
    engine: str  # "festival" | "espeak"
    pitch: int = 0  # festival: cents; espeak: 0-99
    tempo: float = 1.0  # festival: sox tempo; espeak: words per minute / 160
    variant: str = ""  # espeak-ng variant (f1..f5, m1..m7)
    level_db: float = -20.0  # RMS of a phrase at the microphone
    reverb: int = 0  # sox reverberance 0-100 (0: dry)
    lowpass: int = 0  # Hz (0: full band)
    band: tuple[int, int] | None = None  # a loudspeaker's pass band
    compand: bool = False  # a broadcast's steady loudness

    def effects(self) -> list[str]:
        """sox effects that put the dry voice where it stands."""
        fx: list[str] = []
        if self.band:
            fx += ["sinc", f"{self.band[0]}-{self.band[1]}"]
        if self.compand:
            fx += ["compand", "0.02,0.2", "-60,-60,-30,-15,0,-10", "-5"]
        if self.lowpass:
            fx += ["lowpass", str(self.lowpass)]
        if self.reverb:
            fx += ["reverb", str(self.reverb), "50", "60", "100", "8"]
        return fx


def _sox(audio: np.ndarray, effects: list[str]) -> np.ndarray:
    if not effects:
        return audio
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        sf.write(src, audio, RATE, subtype="FLOAT")
        subprocess.run(
            [
                "sox",
                str(src),
                "-b",
                "32",
                "-e",
                "floating-point",
                str(dst),
                *effects,
                "channels",
                "1",
                "rate",
                str(RATE),
            ],
            check=True,
            capture_output=True,
        )
        out, _ = sf.read(dst, dtype="float32")
    return out


def _espeak(text: str, voice: Voice) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                f"ru+{voice.variant}",
                "-p",
                str(voice.pitch),
                "-s",
                str(round(160 * voice.tempo)),
                "-w",
                str(path),
                text,
            ],
            check=True,
            capture_output=True,
        )
        audio, rate = sf.read(path, dtype="float32")
    return resample(audio, rate)


def _dry(text: str, voice: Voice) -> np.ndarray:
    if voice.engine == "festival":
        return synth.speak(text, pitch_cents=voice.pitch, tempo=voice.tempo)
    return _espeak(text, voice)


def speak(text: str, voice: Voice) -> np.ndarray:
    """`text` said by `voice`, where it stands, at its level (cached)."""
    key = hashlib.sha256(f"rushhour|{voice}|{text}".encode()).hexdigest()[:24]
    cached = synth.CACHE_DIR / "rushhour" / f"{key}.wav"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        audio = _trim(_sox(_dry(text, voice), voice.effects()))
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.wav")
        sf.write(tmp, audio, RATE, subtype="FLOAT")
        os.replace(tmp, cached)
    audio, _ = sf.read(cached, dtype="float32")
    return at_level(audio, voice.level_db)


def _trim(audio: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    """Cut the engine's leading and trailing near-silence (the truth times are speech)."""
    frame = RATE // 100
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / (rms.max() or 1.0)) > floor_db + 20)
    if len(loud) == 0:
        return audio
    return audio[loud[0] * frame : (loud[-1] + 1) * frame]


def at_level(audio: np.ndarray, level_db: float) -> np.ndarray:
    """`audio` scaled to an RMS of `level_db` dBFS over its active part."""
    frame = RATE // 100
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    active = rms[rms > rms.max() * 0.1] if n else np.array([1.0])
    level = float(np.sqrt(np.mean(active**2))) or 1.0
    return (audio * (10 ** (level_db / 20) / level)).astype(np.float32)
