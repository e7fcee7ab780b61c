"""Audio in and out: decode ogg/opus, wav (or anything libsndfile reads) to 16 kHz mono
float32, and encode 16 kHz mono audio to ogg/opus.

Other sample rates and stereo are converted, not refused: channels are averaged and the
rate is changed with a band-limited FFT resampler (exact for whole recordings, no extra
dependency). Every failure is a `DecodeError` whose message says what is wrong with the
bytes, since it ends up as a chunk's `error`.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

RATE = 16000


class DecodeError(ValueError):
    """The bytes are not audio this pipeline can read; the message says why."""


def _kind(data: bytes) -> str:
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    return "unknown"


def resample(audio: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Band-limited resampling of mono float audio from `rate` to `target`."""
    if rate == target or len(audio) == 0:
        return audio.astype(np.float32, copy=False)
    n_out = max(1, round(len(audio) * target / rate))
    spectrum = np.fft.rfft(audio)
    bins = n_out // 2 + 1
    if bins <= len(spectrum):
        spectrum = spectrum[:bins]
    else:
        spectrum = np.pad(spectrum, (0, bins - len(spectrum)))
    return (np.fft.irfft(spectrum, n_out) * (n_out / len(audio))).astype(np.float32)


def decode(data: bytes) -> np.ndarray:
    """Decode audio bytes to 16 kHz mono float32, or DecodeError saying why not."""
    if not data:
        raise DecodeError("empty object (0 bytes)")
    kind = _kind(data)
    if kind == "unknown":
        raise DecodeError(f"not audio: unrecognised header {data[:8]!r} (want ogg/opus or wav)")
    if kind == "ogg" and is_truncated_ogg(data):
        raise DecodeError("truncated ogg: the stream ends without its last page")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate = f.samplerate
            expected = f.frames
            audio = f.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        if kind == "ogg":
            raise DecodeError(f"truncated or corrupt ogg: {exc}") from None
        raise DecodeError(f"corrupt {kind}: {exc}") from None
    if kind == "wav" and len(audio) < expected:
        raise DecodeError(f"truncated wav: {len(audio)} of {expected} frames")
    if len(audio) == 0:
        raise DecodeError(f"{kind} holds no audio frames")
    mono = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
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
