"""Realistic Russian test speech and shop noise, made on this machine.

Speech comes from Debian's festival with the festvox-ru voice (Whisper transcribes it
almost word for word); a second speaker is the same voice pitch-shifted with sox. Noise
is generated with numpy from a seed, so every fixture is reproducible. Synthesised
phrases are cached by content hash, since festival takes about a second per phrase.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from salescontrol.errors import PrerequisiteError

RATE = 16000
VOICE = "voice_msu_ru_nsh_clunits"
CACHE_DIR = Path(
    os.environ.get("SALESCONTROL_SYNTH_CACHE", Path.home() / ".cache" / "salescontrol")
)


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise PrerequisiteError(
            f"{program} is missing (Russian test speech): apt-get install festival festvox-ru sox"
        )
    return path


def speak(text: str, pitch_cents: int = 0, tempo: float = 1.0) -> np.ndarray:
    """`text` spoken in Russian as float32 mono at 16 kHz (cached)."""
    key = hashlib.sha256(f"{VOICE}|{pitch_cents}|{tempo}|{text}".encode()).hexdigest()[:24]
    cached = CACHE_DIR / "synth" / f"{key}.wav"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run(
                [_require("text2wave"), "-eval", f"({VOICE})", "-o", str(raw)],
                # festival writes a broken wav for a text with a dash (said as a pause
                # instead) or with quotation marks (dropped: they are not heard)
                input=re.sub(r"\s*[—–]\s*", ", ", re.sub(r"[«»„“”\"]", "", text)).encode(),
                check=True,
                capture_output=True,
            )
            out = Path(tmp) / "out.wav"
            effects = ["rate", str(RATE), "channels", "1"]
            if pitch_cents:
                effects = ["pitch", str(pitch_cents), *effects]
            if tempo != 1.0:
                effects = ["tempo", "-s", str(tempo), *effects]
            subprocess.run(
                [_require("sox"), str(raw), str(out), *effects], check=True, capture_output=True
            )
            os.replace(out, cached)
    audio, rate = sf.read(cached, dtype="float32")
    assert rate == RATE
    return audio


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def shop_noise(
    seconds: float, level_db: float = -40.0, seed: int = 0, beeps: bool = True
) -> np.ndarray:
    """Steady shop background: pink noise, mains hum, fridge drone and scanner beeps."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    white = rng.standard_normal(n)
    # Pink-ish noise: white noise through a 1/f shaping filter in the frequency domain.
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    pink = np.fft.irfft(spectrum, n)
    pink /= np.max(np.abs(pink)) or 1.0
    t = np.arange(n) / RATE
    hum = 0.3 * np.sin(2 * np.pi * 50 * t) + 0.15 * np.sin(2 * np.pi * 100 * t)
    drone = 0.2 * np.sin(2 * np.pi * 120 * t + 0.5 * np.sin(2 * np.pi * 0.2 * t))
    mix = pink + hum + drone
    if beeps:
        for start in rng.uniform(0, max(seconds - 0.2, 0.01), size=int(seconds / 20) + 1):
            i = int(start * RATE)
            j = min(n, i + int(0.12 * RATE))
            mix[i:j] += 0.8 * np.sin(2 * np.pi * 2800 * t[i:j])
    mix /= np.sqrt(np.mean(mix**2)) or 1.0
    return (mix * 10 ** (level_db / 20)).astype(np.float32)


def mix(speech: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Speech over noise (the noise is tiled or cut to the speech length)."""
    reps = int(np.ceil(len(speech) / max(len(noise), 1)))
    bed = np.tile(noise, reps)[: len(speech)]
    return np.clip(speech + bed, -1.0, 1.0).astype(np.float32)


def write(path: Path, audio: np.ndarray, codec: str = "opus") -> Path:
    """Write 16 kHz mono audio as ogg/opus (or wav)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if codec == "opus":
        sf.write(path, audio, RATE, format="OGG", subtype="OPUS")
    else:
        sf.write(path, audio, RATE, format="WAV", subtype="PCM_16")
    return path
