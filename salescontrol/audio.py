"""Audio in and out: decode ogg/opus, wav (or anything libsndfile reads) to 16 kHz mono
float32, and encode 16 kHz mono audio to ogg/opus.

Other sample rates and stereo are converted, not refused: channels are averaged and the
rate is changed with a band-limited FFT resampler (no extra dependency). Every failure is
a `DecodeError` saying what is wrong with the bytes (it becomes the chunk's `error`).
A device's chunk is decoded against its announcement: header first (rate 8-48
kHz and as announced, at most 2 channels, frames within the announced duration), then
blocks that stop there: kilobytes claiming hours cannot take the memory (bench_audio.py).
"""

from __future__ import annotations

import io
import math

import numpy as np
import soundfile as sf

RATE = 16000
RATES = (8000, 48000)  # the sample rates a device may send (the announcement's bounds)
MAX_CHANNELS = 2
BLOCK_FRAMES = 1 << 16
SEGMENT_SEC, PAD_SEC = 30.0, 1.0  # resampling piece by piece beyond SEGMENT_SEC


class DecodeError(ValueError):
    """The bytes are not audio this pipeline can read; the message says why."""


def _kind(data: bytes) -> str:
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    return "unknown"


def _fft_resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    n_out = max(1, round(len(audio) * target / rate))
    spectrum = np.fft.rfft(audio)
    bins = n_out // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins]
    else:
        spectrum = np.pad(spectrum, (0, bins - len(spectrum)))
    return (np.fft.irfft(spectrum, n_out) * (n_out / len(audio))).astype(np.float32)


def resample(audio: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Band-limited resampling of mono float audio from `rate` to `target`, in pieces of
    SEGMENT_SEC (with PAD_SEC of context each side): FFT memory stays bounded."""
    audio = audio.astype(np.float32, copy=False)  # single-precision FFT: half the memory
    if rate == target or len(audio) == 0:
        return audio
    step = rate // math.gcd(rate, target)  # input samples that make whole output samples
    seg, pad = (int(sec * rate) // step * step for sec in (SEGMENT_SEC, PAD_SEC))
    if len(audio) <= seg + 2 * pad:
        return _fft_resample(audio, rate, target)
    pieces = []
    for start in range(0, len(audio), seg):
        lo, hi = max(0, start - pad), min(len(audio), start + seg + pad)
        out = _fft_resample(audio[lo:hi], rate, target)
        first = (start - lo) * target // rate
        size = round(min(start + seg, len(audio)) * target / rate) - start * target // rate
        pieces.append(out[first : first + size])
    return np.concatenate(pieces)


def _check_header(kind: str, f: sf.SoundFile, announced: int, max_sec: float) -> int:
    """The most frames the announcement allows; DecodeError if the header says no."""
    rate, max_frames = f.samplerate, int(max_sec * f.samplerate)
    if not RATES[0] <= rate <= RATES[1]:
        raise DecodeError(f"{kind} header: sample rate {rate} Hz is outside 8000-48000 Hz")
    if rate != announced:
        raise DecodeError(f"sample rate mismatch: {kind} header {rate}, announced {announced}")
    if f.channels > MAX_CHANNELS:
        raise DecodeError(f"{kind} header: {f.channels} channels (at most {MAX_CHANNELS})")
    if f.frames > max_frames:
        raise DecodeError(f"absurd duration: {kind} header {f.frames / rate:.1f} s, announced less")
    return max_frames


def _read_mono(f: sf.SoundFile, max_frames: int | None) -> np.ndarray:
    """The audio as mono float32, read in blocks; DecodeError past `max_frames` (a header
    may understate the frames of an ogg stream)."""
    blocks, frames = [], 0
    for block in f.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
        frames += len(block)
        if max_frames is not None and frames > max_frames:
            raise DecodeError("absurd duration: the audio goes on past what was announced")
        blocks.append(block.mean(axis=1) if block.shape[1] > 1 else block[:, 0].copy())
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def decode(data: bytes, announced: int = 0, max_sec: float = 0.0) -> np.ndarray:
    """Decode audio bytes to 16 kHz mono float32, or DecodeError saying why not; for a
    device's chunk (`announced` rate, `max_sec`) the header is checked first and decoding
    stops at `max_sec`."""
    if not data:
        raise DecodeError("empty object (0 bytes)")
    kind = _kind(data)
    if kind == "unknown":
        raise DecodeError(f"not audio: unrecognised header {data[:8]!r} (want ogg/opus or wav)")
    if kind == "ogg" and is_truncated_ogg(data):
        raise DecodeError("truncated ogg: the stream ends without its last page")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            max_frames = _check_header(kind, f, announced, max_sec) if announced else None
            rate, expected, mono = f.samplerate, f.frames, _read_mono(f, max_frames)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        if isinstance(exc, DecodeError):
            raise
        if kind == "ogg":
            raise DecodeError(f"truncated or corrupt ogg: {exc}") from None
        raise DecodeError(f"corrupt {kind}: {exc}") from None
    if kind == "wav" and len(mono) < expected:
        raise DecodeError(f"truncated wav: {len(mono)} of {expected} frames")
    if len(mono) == 0:
        raise DecodeError(f"{kind} holds no audio frames")
    return resample(mono, rate)


def is_truncated_ogg(data: bytes) -> bool:
    """True when an ogg stream does not end with an end-of-stream page."""
    last = data.rfind(b"OggS")
    # Header type flag (byte 5 of a page): 0x04 marks the last page of a stream.
    return last < 0 or len(data) < last + 27 or not data[last + 5] & 0x04


def encode_opus(audio: np.ndarray) -> bytes:
    """16 kHz mono float audio as ogg/opus bytes."""
    buf = io.BytesIO()
    sf.write(buf, audio, RATE, format="OGG", subtype="OPUS")
    return buf.getvalue()


def duration_sec(audio: np.ndarray) -> float:
    return len(audio) / RATE
