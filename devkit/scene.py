"""Synthetic shop recordings with ground truth, for tests and benchmarks.

A scene is shop noise with seller–customer dialogues laid into it: the seller is the
festival Russian voice, the customer the same voice pitch-shifted. Every dialogue's
start and end and every phrase's span are known, so detectors and the assembler can be
scored. Deterministic for a seed; phrases come from synth's cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from devkit import synth
from salescontrol import timeline, vad

SELLER = [
    "Здравствуйте! Вам подсказать что-нибудь?",
    "К этому кофе отлично подойдёт круассан, сегодня со скидкой.",
    "Пакет нужен? Карта магазина у вас есть?",
    "Возьмите ещё батарейки, они часто заканчиваются.",
    "С вас четыреста двадцать рублей. Оплата картой или наличными?",
    "Спасибо за покупку, хорошего дня!",
]
CUSTOMER = [
    "Добрый день. Мне, пожалуйста, большой капучино.",
    "Нет, спасибо, круассан не нужно.",
    "Да, давайте пакет, и карта есть.",
    "Картой, пожалуйста.",
    "А молоко свежее? Тогда возьму одну бутылку.",
    "Спасибо, до свидания.",
]
CUSTOMER_PITCH = 400  # cents
SPEECH_RMS_DB = -20.0


@dataclass
class Scene:
    """Audio at 16 kHz with the true dialogue and phrase spans in seconds."""

    audio: np.ndarray
    dialogues: list[tuple[float, float]] = field(default_factory=list)
    phrases: list[tuple[float, float]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.audio) / synth.RATE


def _phrase(text: str, pitch: int) -> np.ndarray:
    audio = synth.speak(text, pitch_cents=pitch)
    rms = float(np.sqrt(np.mean(audio**2))) or 1.0
    return audio * (10 ** (SPEECH_RMS_DB / 20) / rms)


class _Builder:
    def __init__(self, seconds: float, noise_db: float, seed: int) -> None:
        self.bed = synth.shop_noise(seconds, level_db=noise_db, seed=seed).astype(np.float64)
        self.scene = Scene(np.zeros(0, dtype=np.float32))

    def put(self, at: float, audio: np.ndarray) -> float:
        i = round(at * synth.RATE)
        j = min(len(self.bed), i + len(audio))
        self.bed[i:j] += audio[: j - i]
        self.scene.phrases.append((at, j / synth.RATE))
        return j / synth.RATE

    def dialogue(self, at: float, turns: int, rng: np.random.Generator) -> float:
        start, t = at, at
        for k in range(turns):
            seller = k % 2 == 0
            text = (SELLER if seller else CUSTOMER)[int(rng.integers(len(SELLER)))]
            t = self.put(t, _phrase(text, 0 if seller else CUSTOMER_PITCH))
            if k < turns - 1:
                t += float(rng.uniform(0.3, 1.5))
        self.scene.dialogues.append((start, t))
        return t

    def done(self) -> Scene:
        self.scene.audio = np.clip(self.bed, -1.0, 1.0).astype(np.float32)
        return self.scene


def shop_recording(
    seconds: float = 600.0, noise_db: float = -35.0, seed: int = 0, lead_in: float = 5.0
) -> Scene:
    """`seconds` of shop noise with dialogues separated by 25-60 s of noise only."""
    rng = np.random.default_rng(seed)
    b = _Builder(seconds, noise_db, seed)
    t = lead_in
    while True:
        turns = int(rng.integers(3, 8))
        # Leave room for the longest dialogue plus the gap that closes it.
        if t + turns * 6.0 + 15.0 > seconds:
            break
        t = b.dialogue(t, turns, rng) + float(rng.uniform(25.0, 60.0))
    return b.done()


def layout(
    seconds: float,
    dialogues: list[tuple[float, int]],
    noise_db: float = -35.0,
    seed: int = 0,
) -> Scene:
    """Shop noise with dialogues of (start second, number of turns) placed exactly."""
    rng = np.random.default_rng(seed)
    b = _Builder(seconds, noise_db, seed)
    for at, turns in dialogues:
        b.dialogue(at, turns, rng)
    return b.done()


def monologue(
    seconds: float, noise_db: float = -35.0, seed: int = 0, lead_in: float = 2.0, tail: float = 15.0
) -> Scene:
    """The seller talking without a pause longer than 1.2 s for `seconds`, then `tail` s
    of noise."""
    rng = np.random.default_rng(seed)
    b = _Builder(seconds + lead_in + 30.0, noise_db, seed)
    t = lead_in
    while t < lead_in + seconds:
        text = SELLER[int(rng.integers(len(SELLER)))]
        t = b.put(t, _phrase(text, 0)) + float(rng.uniform(0.3, 1.2))
    end = b.scene.phrases[-1][1]
    b.scene.dialogues.append((lead_in, end))
    rec = b.done()
    rec.audio = rec.audio[: round((end + tail) * synth.RATE)]
    return rec


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def precision_recall(
    truth: list[tuple[float, float]], found: list[tuple[float, float]], min_iou: float = 0.5
) -> tuple[float, float]:
    """Dialogue precision and recall, a match being IoU ≥ `min_iou` (one-to-one)."""
    used: set[int] = set()
    hits = 0
    for t in truth:
        best = max(
            (k for k in range(len(found)) if k not in used),
            key=lambda k: iou(t, found[k]),
            default=None,
        )
        if best is not None and iou(t, found[best]) >= min_iou:
            used.add(best)
            hits += 1
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def offline_dialogues(
    audio: np.ndarray,
    options: vad.VadOptions,
    params: timeline.Params,
    chunk_sec: float = 60.0,
) -> list[timeline.Span]:
    """The pipeline without I/O: VAD per chunk, segments on one timeline, assembly."""
    step = round(chunk_sec * synth.RATE)
    segments: list[timeline.Interval] = []
    for i in range(0, len(audio), step):
        offset = round(i * 1000 / synth.RATE)
        segments += [
            (offset + a, offset + b) for a, b in vad.speech_segments(audio[i : i + step], options)
        ]
    total = round(len(audio) * 1000 / synth.RATE)
    return timeline.plan(segments, [(-(2**62), total)], params, force=True)
