"""Voices on a device's timeline, as pure functions: where the customer changes, who spoke.

The vad stage stores, for each window of speech (about a second), a voice embedding
(unit vector; same voice ~0.9 cosine, different voices lower) and its loudness. This
module reads nothing and writes nothing.

- `first_cut`: where the first dialogue of a stretch of speech ends when the customer
  changes without a long silence (a queue). Pauses of at least `min_cut_pause_ms` are
  the candidate boundaries; the seller's voice is found in the stretch itself
  (`dominant_voice` without known sellers); between two candidate boundaries the other
  voice's windows are the customer's; neighbouring pieces stay together unless their
  customers differ (`_differ`) or a long pause parts them, and a piece where no customer
  is heard goes with the nearer neighbour. Only the stretch is read, so the answer does
  not depend on delivery order or on what the point has learned.
- `at_microphone`: whether anyone speaks close to the microphone in a closed stretch;
  one where nobody does is a loudspeaker heard alone, not a sales dialogue.
- `dominant_voice`: the seller's voice in a stretch: a known seller voice of the point if
  one is heard, else the louder of the two voices heard longest (the seller stands at
  the microphone); `is_customer` then tells the customer's windows from the seller's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Interval = tuple[int, int]


@dataclass(frozen=True)
class Window:
    """About a second of speech on the device timeline (epoch ms)."""

    start_ms: int
    end_ms: int
    embedding: np.ndarray | None  # unit float32; None: too short to embed
    level_db: float

    @property
    def ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Params:
    same_voice: float = 0.6  # cosine at or above which two windows are one voice
    customer_below: float = 0.5  # a window this far from the seller is the customer
    quieter_below: float = 0.8  # ... or this far, and quieter than the seller by
    quieter_db: float = 3.0  # this much (customers stand across the counter)
    far_db: float = 6.0  # a window this much quieter than the seller is not the seller
    min_cut_pause_ms: int = 2000  # shorter pauses are never a dialogue boundary
    long_pause_ms: int = 5000  # a pause this long between two customers' talk ends one
    voice_margin: float = 0.05  # customers differ: cross-cosine this far below their own
    # (the geometric mean of each one's own)
    level_step_db: float = 4.0  # ... or one stands this much nearer the microphone (both
    # heard in two windows at least)
    min_customer_ms: int = 700  # less customer speech than this: no customer heard
    # A dialogue has a voice at the microphone (the seller) at least this loud in some
    # window; a stretch quieter throughout is a loudspeaker heard alone (radio, TV).
    # Rush-hour dev and diagnostic recordings: every real dialogue's loudest window is
    # -24.9 dB or louder, every radio-alone stretch's -34.6 dB or quieter.
    microphone_db: float = -30.0


def unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


def _voiced(windows: list[Window]) -> list[Window]:
    return [w for w in windows if w.embedding is not None]


def _centre(emb: np.ndarray, ms: np.ndarray, seed: int, params: Params) -> np.ndarray:
    centre = emb[seed]
    for _ in range(3):
        members = emb @ centre >= params.same_voice
        if not members.any():
            break
        centre = unit(emb[members].T @ ms[members])
    return centre


def voices_heard(windows: list[Window], params: Params) -> list[tuple[np.ndarray, float, float]]:
    """The two voices heard longest among `windows`: (unit centroid, median loudness, ms)."""
    voiced = _voiced(windows)
    if not voiced:
        return []
    emb = np.stack([w.embedding for w in voiced])
    ms = np.array([w.ms for w in voiced], dtype=np.float64)
    level = np.array([w.level_db for w in voiced])
    close = emb @ emb.T >= params.same_voice
    first = _centre(emb, ms, int(np.argmax(close @ ms)), params)
    mine = emb @ first >= params.same_voice
    out = [(first, float(np.median(level[mine])) if mine.any() else -200.0, ms[mine].sum())]
    rest = ~mine
    if rest.any():
        second = _centre(emb, ms, int(np.argmax(np.where(rest, (close & rest) @ ms, -1))), params)
        theirs = (emb @ second >= params.same_voice) & rest
        if theirs.any():
            out.append((second, float(np.median(level[theirs])), ms[theirs].sum()))
    return out


def dominant_voice(
    windows: list[Window], params: Params, known: list[np.ndarray] | None = None
) -> np.ndarray | None:
    """The seller's voice among `windows` (unit centroid), or None. A `known` seller voice
    heard for at least `min_customer_ms` wins (refined by what is heard); else, of the two
    voices heard longest, the louder one, unless it speaks less than half as much."""
    voiced = _voiced(windows)
    if known and voiced:
        emb = np.stack([w.embedding for w in voiced])
        ms = np.array([w.ms for w in voiced], dtype=np.float64)
        heard_ms = [(ms[emb @ k >= params.same_voice].sum(), i) for i, k in enumerate(known)]
        most, i = max(heard_ms)
        if most >= params.min_customer_ms:
            mine = emb @ known[i] >= params.same_voice
            return unit(known[i] * most + emb[mine].T @ ms[mine])
    heard = voices_heard(windows, params)
    if not heard:
        return None
    talkers = [v for v in heard if v[2] >= 0.5 * heard[0][2]]
    return max(talkers, key=lambda v: v[1])[0]


def _pieces(segments: list[Interval], min_pause_ms: int) -> list[list[int]]:
    """Segment indexes grouped between pauses of at least `min_pause_ms`."""
    out = [[0]]
    for k in range(1, len(segments)):
        if segments[k][0] - segments[k - 1][1] >= min_pause_ms:
            out.append([])
        out[-1].append(k)
    return out


def is_customer(w: Window, seller: np.ndarray, seller_db: float, params: Params) -> bool:
    similarity = float(w.embedding @ seller)
    return (
        similarity < params.customer_below
        or (similarity < params.quieter_below and w.level_db < seller_db - params.quieter_db)
        or w.level_db < seller_db - params.far_db
    )


def at_microphone(windows: list[Window], params: Params) -> bool:
    """Whether someone speaks at the microphone in `windows` (True when none were
    measured: no evidence either way)."""
    return not windows or max(w.level_db for w in windows) >= params.microphone_db


def seller_level(windows: list[Window], seller: np.ndarray, params: Params) -> float:
    """The seller's median loudness among `windows`."""
    mine = [
        w.level_db for w in _voiced(windows) if float(w.embedding @ seller) >= params.same_voice
    ]
    return float(np.median(mine)) if mine else -200.0


@dataclass(frozen=True)
class Voices:
    """Some windows' embeddings (rows), loudness and length."""

    embedding: np.ndarray
    level_db: np.ndarray
    ms: int

    def __len__(self) -> int:
        return len(self.level_db)

    def __add__(self, other: Voices) -> Voices:
        return Voices(
            np.concatenate([self.embedding, other.embedding]),
            np.concatenate([self.level_db, other.level_db]),
            self.ms + other.ms,
        )


def _customer_windows(
    windows: list[Window], seller: np.ndarray, seller_db: float, params: Params
) -> Voices:
    theirs = [w for w in _voiced(windows) if is_customer(w, seller, seller_db, params)]
    return Voices(
        np.array([w.embedding for w in theirs]).reshape(-1, seller.shape[0]),
        np.array([w.level_db for w in theirs]),
        sum(w.ms for w in theirs),
    )


def _own_similarity(emb: np.ndarray) -> float | None:
    n = len(emb)
    return float(((emb @ emb.T).sum() - n) / (n * (n - 1))) if n > 1 else None


def _differ(left: Voices, right: Voices, params: Params) -> bool:
    """Whether two sets of customer windows are two people."""
    step = abs(float(np.median(left.level_db)) - float(np.median(right.level_db)))
    if min(len(left), len(right)) >= 2 and step >= params.level_step_db:
        return True
    if min(len(left), len(right)) < 2:
        return False  # one window says too little about a voice
    # A window is its voice plus noise (reverb, overlap, the counter): the windows of one
    # voice agree to the square of their share of signal, so two sets of one voice agree
    # with each other to the geometric mean of their own agreements. The smaller own
    # agreement (used before) took a noisy customer for whoever came before her.
    cross = float((left.embedding @ right.embedding.T).mean())
    own = [max(_own_similarity(x.embedding) or 0.0, 0.0) for x in (left, right)]
    return cross < float(np.sqrt(own[0] * own[1])) - params.voice_margin


def first_cut(segments: list[Interval], windows: list[Window], params: Params) -> int | None:
    """Index k such that the first dialogue of `segments` ends with segment k, or None."""
    pieces = _pieces(segments, params.min_cut_pause_ms)
    seller = dominant_voice(windows, params)
    if len(pieces) < 2 or seller is None:
        return None
    spans = [(segments[p[0]][0], segments[p[-1]][1]) for p in pieces]
    loud = seller_level(windows, seller, params)
    theirs = [
        _customer_windows([w for w in windows if a <= w.start_ms < b], seller, loud, params)
        for a, b in spans
    ]
    heard = [c.ms >= params.min_customer_ms for c in theirs]
    # A piece where no customer is heard (the seller alone) goes with the nearer neighbour.
    pause = [spans[i + 1][0] - spans[i][1] for i in range(len(spans) - 1)]
    together = [False] * len(pause)  # together[i]: pieces i and i+1 are one dialogue
    for i in range(len(pieces)):
        if not heard[i]:
            before = pause[i - 1] if i > 0 else None
            after = pause[i] if i < len(pause) else None
            if after is None or (before is not None and before <= after):
                together[i - 1] = True
            else:
                together[i] = True
    blocks = [[0]]  # pieces joined where they are together
    for i, joined in enumerate(together):
        if joined:
            blocks[-1].append(i + 1)
        else:
            blocks.append([i + 1])
    left = sum((theirs[i] for i in blocks[0][1:]), theirs[blocks[0][0]])
    for n, block in enumerate(blocks[1:], start=1):
        right = sum((theirs[i] for i in block[1:]), theirs[block[0]])
        before = pause[block[0] - 1]
        after = pause[blocks[n + 1][0] - 1] if n + 1 < len(blocks) else None
        long = before >= params.long_pause_ms
        if len(left) and len(right) and (long or _differ(left, right, params)):
            return pieces[block[0]][0] - 1
        # The seller alone after a long pause opens what comes next, when that is nearer.
        if len(left) and not len(right) and long and (after is None or after < before):
            return pieces[block[0]][0] - 1
        left = left + right
    return None
