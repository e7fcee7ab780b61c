"""Speech detection: two engines behind one interface, and the smoothing they share.

`webrtc` is the design card's detector (GMM on 30 ms frames, `VAD_AGGRESSIVENESS`); it
takes steady shop noise (fridges, hum, music) for speech. `silero` is the Silero VAD
ONNX model that faster-whisper ships, run with onnxruntime on 32 ms windows. Both give
a speech/no-speech flag per frame; `smooth()` then bridges pauses shorter than the
hangover (a breath is no boundary) and drops runs shorter than the minimum speech.
benchmarks/bench_vad.py compares them on noisy synthetic shop audio; the default
(`VAD_ENGINE`) follows that measurement.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from salescontrol.audio import RATE
from salescontrol.config import Settings, settings
from salescontrol.errors import ConfigError

ENGINES = ("silero", "webrtc")


@dataclass(frozen=True)
class VadOptions:
    """Everything that decides where speech is; stored with results for traceability."""

    engine: str = "silero"
    aggressiveness: int = 2
    threshold: float = 0.5
    hangover_ms: int = 400
    min_speech_ms: int = 200

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> VadOptions:
        s = s or settings()
        if s.vad_engine not in ENGINES:
            raise ConfigError(f"VAD_ENGINE={s.vad_engine!r}: choose one of {', '.join(ENGINES)}")
        if not 0 <= s.vad_aggressiveness <= 3:
            raise ConfigError(f"VAD_AGGRESSIVENESS={s.vad_aggressiveness}: must be 0..3")
        return cls(
            engine=s.vad_engine,
            aggressiveness=s.vad_aggressiveness,
            threshold=s.vad_threshold,
            hangover_ms=s.vad_hangover_ms,
            min_speech_ms=s.vad_min_speech_ms,
        )


def _webrtc_flags(audio: np.ndarray, aggressiveness: int) -> tuple[np.ndarray, int]:
    import webrtcvad

    frame = RATE * 30 // 1000
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    detector = webrtcvad.Vad(aggressiveness)
    n = len(pcm) // frame
    flags = np.fromiter(
        (detector.is_speech(pcm[i * frame : (i + 1) * frame].tobytes(), RATE) for i in range(n)),
        dtype=bool,
        count=n,
    )
    return flags, frame


@functools.cache
def _silero_model() -> object:
    from faster_whisper.vad import get_vad_model

    return get_vad_model()


def _silero_flags(audio: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    window = 512
    n = len(audio) // window
    if n == 0:
        return np.zeros(0, dtype=bool), window
    probs = np.asarray(_silero_model()(audio[: n * window].astype(np.float32))).reshape(-1)
    return probs[:n] >= threshold, window


def frame_flags(audio: np.ndarray, options: VadOptions) -> tuple[np.ndarray, int]:
    """(speech flag per frame, frame length in samples) of 16 kHz mono audio."""
    if options.engine == "webrtc":
        return _webrtc_flags(audio, options.aggressiveness)
    return _silero_flags(audio, options.threshold)


def smooth(flags: np.ndarray, frame: int, options: VadOptions) -> list[tuple[int, int]]:
    """Speech runs as (start_ms, end_ms): short pauses bridged, short runs dropped."""
    frame_ms = frame * 1000 / RATE
    runs: list[list[int]] = []
    i, n = 0, len(flags)
    while i < n:
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < n and flags[j]:
            j += 1
        if runs and (i - runs[-1][1]) * frame_ms < options.hangover_ms:
            runs[-1][1] = j
        else:
            runs.append([i, j])
        i = j
    return [
        (round(a * frame_ms), round(b * frame_ms))
        for a, b in runs
        if (b - a) * frame_ms >= options.min_speech_ms
    ]


def speech_segments(audio: np.ndarray, options: VadOptions) -> list[tuple[int, int]]:
    """Speech in 16 kHz mono audio as (start_ms, end_ms) from the audio's start."""
    flags, frame = frame_flags(audio, options)
    return smooth(flags, frame, options)
