"""A dialogue's speech as decoding windows: VAD speech spans packed into ≤ 30 s windows.

Whisper encodes 30 s at a time whatever the audio's length, so the cost of a dialogue is
its number of windows. The pauses between turns are cut (each span keeps PAD_SEC either
side: VAD edges clip word onsets), spans are packed in order until a window is full, and
a span longer than a window is cut at its quietest moment near the window's end. Each
window maps its own time back to the dialogue's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salescontrol import vad

RATE = 16000
WINDOW_SEC = 30.0  # Whisper's input length
PAD_SEC = 0.2
SEARCH_SEC = 6.0  # a long span is cut at its quietest 50 ms in the window's last 6 s
_FRAME = RATE // 20
# Silero (faster-whisper ships it) with the pipeline's smoothing but a longer hangover:
# a pause under 0.6 s stays inside a span.
VAD = vad.VadOptions(engine="silero", hangover_ms=600, min_speech_ms=200)


@dataclass(frozen=True)
class Window:
    """Pieces of the dialogue audio, as (start, end) samples, decoded as one input."""

    pieces: tuple[tuple[int, int], ...]

    @property
    def samples(self) -> int:
        return sum(b - a for a, b in self.pieces)

    def audio(self, audio: np.ndarray) -> np.ndarray:
        return np.concatenate([audio[a:b] for a, b in self.pieces]).astype(np.float32)

    def after(self, t: float) -> list[tuple[int, int]]:
        """The pieces of the dialogue audio from `t` seconds in this window to its end."""
        at = max(0, round(t * RATE))
        rest = []
        for a, b in self.pieces:
            if at < b - a:
                rest.append((a + at, b))
                at = 0
            else:
                at -= b - a
        return rest

    def since(self, t: float) -> list[tuple[int, int]]:
        """The pieces of the dialogue audio in this window from `t` seconds of the dialogue."""
        at = round(t * RATE)
        return [(max(a, at), b) for a, b in self.pieces if b > at]

    def piece_at(self, t: float) -> int:
        """The index of the piece holding `t` seconds of this window (the last past its end)."""
        at = round(t * RATE)
        for k, (a, b) in enumerate(self.pieces):
            if at < b - a:
                return k
            at -= b - a
        return len(self.pieces) - 1

    def in_piece(self, t: float, k: int) -> float:
        """Seconds `t` in this window, held inside piece `k`, as seconds in the dialogue."""
        before = sum(b - a for a, b in self.pieces[:k])
        a, b = self.pieces[k]
        return (a + min(max(round(t * RATE) - before, 0), b - a)) / RATE

    def to_dialogue(self, t: float) -> float:
        """Seconds in this window as seconds in the dialogue."""
        at = round(t * RATE)
        for a, b in self.pieces:
            if at <= b - a:
                return (a + max(at, 0)) / RATE
            at -= b - a
        return self.pieces[-1][1] / RATE


def speech_spans(audio: np.ndarray, flags: np.ndarray, frame: int) -> list[tuple[int, int]]:
    """Speech runs of VAD `flags` as padded, merged (start, end) samples."""
    runs = vad.smooth(flags, frame, VAD)
    pad = round(PAD_SEC * RATE)
    spans: list[list[int]] = []
    for a_ms, b_ms in runs:
        a = max(0, a_ms * RATE // 1000 - pad)
        b = min(len(audio), b_ms * RATE // 1000 + pad)
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return [(a, b) for a, b in spans]


def _quietest(audio: np.ndarray, lo: int, hi: int) -> int:
    """The start of the quietest 50 ms frame in audio[lo:hi]."""
    frames = (hi - lo) // _FRAME
    if frames < 2:
        return hi
    energy = np.square(audio[lo : lo + frames * _FRAME]).reshape(frames, _FRAME).sum(axis=1)
    return lo + int(np.argmin(energy)) * _FRAME + _FRAME // 2


def _cut_long(audio: np.ndarray, span: tuple[int, int], limit: int) -> list[tuple[int, int]]:
    a, b = span
    pieces = []
    while b - a > limit:
        cut = _quietest(audio, a + limit - round(SEARCH_SEC * RATE), a + limit)
        pieces.append((a, cut))
        a = cut
    return [*pieces, (a, b)]


def pack(
    audio: np.ndarray, spans: list[tuple[int, int]], seconds: float = WINDOW_SEC
) -> list[Window]:
    """Spans in order, packed into windows of at most `seconds`."""
    limit = round(seconds * RATE)
    windows: list[Window] = []
    current: list[tuple[int, int]] = []
    used = 0
    for span in spans:
        for piece in _cut_long(audio, span, limit):
            size = piece[1] - piece[0]
            if current and used + size > limit:
                windows.append(Window(tuple(current)))
                current, used = [], 0
            current.append(piece)
            used += size
    if current:
        windows.append(Window(tuple(current)))
    return windows


def speech_fraction(flags: np.ndarray, frame: int, start: float, end: float) -> float:
    """Share of the VAD frames in [start, end) seconds flagged as speech."""
    a, b = int(start * RATE) // frame, max(int(start * RATE) // frame + 1, int(end * RATE) // frame)
    part = flags[a:b]
    return float(part.mean()) if len(part) else 0.0


def speech_share(flags: np.ndarray, frame: int, pieces: list[tuple[int, int]]) -> float:
    """Share of the VAD frames of `pieces` (samples) flagged as speech."""
    parts = [flags[a // frame : max(a // frame + 1, b // frame)] for a, b in pieces]
    total = sum(len(p) for p in parts)
    return float(sum(p.sum() for p in parts)) / total if total else 0.0
