"""One rush-hour recording from a seed: voices, dialogues, radio, music, noise, truth.

Customers follow each other 3-8 s apart (sometimes a lull with only the radio talking),
replies sometimes start a few hundred ms before the other has finished, the radio talks
between and under dialogues, music and shop noise run throughout. The truth is the
format `devkit.evaluation` reads, with each speech turn's role and times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from devkit import synth
from devkit.rushhour import (
    annex,
    attic,
    cellar,
    den,
    heldout,
    loft,
    probe,
    reserve,
    scripts,
    sealed,
    shed,
    unseen,
    vault,
)
from devkit.rushhour.voices import RATE, Voice, at_level, speak

QUEUE_GAP_SEC = (3.0, 8.0)
LULL_SEC = (16.0, 26.0)  # a pause in the queue; the radio talks in it
LULL_CHANCE = 0.25
RADIO_UNDER_CHANCE = 0.35  # a radio item under a dialogue
PAUSE_SEC = (0.25, 1.0)  # between turns
OVERLAP_CHANCE = 0.25
OVERLAP_SEC = (0.1, 0.4)
HESITATION_CHANCE = 0.35  # once per dialogue, a long pause (looking for a card, packing)
HESITATION_SEC = (2.0, 4.5)
LEAD_SEC, TAIL_SEC = 4.0, 20.0
NOISE_DB, MUSIC_DB = -44.0, -42.0

# The seller is a festival voice: to the speaker encoder, espeak-ng's variants are one
# voice with small changes, and a seller who sounds like every customer is beyond it.
SELLERS = (
    Voice("seller-festival", "festival", level_db=-20.0),
    Voice("seller-festival-low", "festival", pitch=-150, tempo=1.05, level_db=-20.0),
    Voice("seller-festival-high", "festival", pitch=200, tempo=0.95, level_db=-21.0),
)
ESPEAK_VARIANTS = ("f1", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7")


@dataclass
class Recording:
    """16 kHz audio and its truth document."""

    seed: int
    audio: np.ndarray
    truth: dict[str, Any] = field(default_factory=dict)


def _customer(rng: np.random.Generator, seller: Voice, k: int) -> Voice:
    far = {
        "level_db": float(rng.uniform(-30.0, -25.0)),
        "reverb": int(rng.integers(30, 71)),
        "lowpass": int(rng.integers(55, 76)) * 100,
    }
    if rng.random() < 0.45:
        pitch = 0
        while abs(pitch - seller.pitch) < 250:
            pitch = int(rng.choice([-1, 1]) * rng.integers(2, 7) * 100)
        return Voice(
            f"customer{k}",
            "festival",
            pitch=pitch,
            tempo=round(float(rng.uniform(0.9, 1.12)), 2),
            **far,
        )
    variant = str(rng.choice(ESPEAK_VARIANTS))
    return Voice(
        f"customer{k}",
        "espeak",
        pitch=int(rng.integers(30, 71)),
        variant=variant,
        tempo=round(float(rng.uniform(0.85, 1.1)), 2),
        **far,
    )


def _announcers(rng: np.random.Generator) -> list[Voice]:
    radio = {"band": (300, 3400), "compand": True, "level_db": float(rng.uniform(-37.0, -33.0))}
    return [
        Voice(
            "radio-m",
            "espeak",
            pitch=int(rng.integers(30, 50)),
            variant=str(rng.choice(["m1", "m3", "m6"])),
            **radio,
        ),
        Voice("radio-f", "festival", pitch=int(rng.choice([300, 450])), tempo=1.1, **radio),
    ]


def music(seconds: float, seed: int, level_db: float = MUSIC_DB) -> np.ndarray:
    """Quiet shop music: slowly changing chords of soft harmonic tones."""
    rng = np.random.default_rng(seed + 7)
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    roots = 110.0 * 2 ** (rng.integers(0, 12, size=int(seconds / 4) + 2) / 12)
    for k, root in enumerate(roots):
        i, j = int(k * 4 * RATE), min(n, int((k + 1) * 4 * RATE) + RATE // 5)
        if i >= n:
            break
        env = np.minimum(1.0, np.minimum(t[i:j] - t[i], t[j - 1] - t[i:j]) * 5)
        for ratio in (1.0, 1.25, 1.5, 2.0):
            for h, amp in ((1, 1.0), (2, 0.4), (3, 0.2)):
                out[i:j] += amp * env * np.sin(2 * np.pi * root * ratio * h * t[i:j])
    return at_level(out.astype(np.float32), level_db)


class _Mixer:
    def __init__(self, seconds: float, seed: int) -> None:
        self.bed = synth.shop_noise(seconds, level_db=NOISE_DB, seed=seed).astype(np.float64)
        self.bed += music(seconds, seed)

    def put(self, at: float, audio: np.ndarray) -> float:
        i = round(at * RATE)
        j = min(len(self.bed), i + len(audio))
        self.bed[i:j] += audio[: j - i]
        return j / RATE


def _dialogue(
    mix: _Mixer,
    at: float,
    script: scripts.Script,
    seller: Voice,
    customer: Voice,
    rng: np.random.Generator,
) -> dict[str, Any]:
    turns, t = [], at
    hesitate = int(rng.integers(2, len(script.lines))) if rng.random() < HESITATION_CHANCE else -1
    for k, (role, text) in enumerate(script.lines):
        clip = speak(text, seller if role == "seller" else customer)
        if k == hesitate:
            t += float(rng.uniform(*HESITATION_SEC))
        elif k and rng.random() < OVERLAP_CHANCE:
            t = max(turns[-1]["start"] + 0.5, t - float(rng.uniform(*OVERLAP_SEC)))
        elif k:
            t += float(rng.uniform(*PAUSE_SEC))
        end = mix.put(t, clip)
        turns.append({"start": round(t, 2), "end": round(end, 2), "role": role, "text": text})
        t = end
    return {
        "start": turns[0]["start"],
        "end": max(x["end"] for x in turns),
        "text": " ".join(x["text"] for x in turns),
        "upsell_attempted": script.upsell_attempted,
        "accepted": script.accepted,
        "kind": script.kind,
        "voices": {"seller": seller.name, "customer": customer.name},
        "turns": turns,
    }


def _radio(mix: _Mixer, at: float, text: str, voice: Voice) -> dict[str, Any]:
    end = mix.put(at, speak(text, voice))
    return {
        "start": round(at, 2),
        "end": round(end, 2),
        "role": "other",
        "kind": "radio",
        "text": text,
    }


# The dialogue sets written blind to the project, oldest first: each has its own seeds
# (`SEEDS`), dialogues (`SCRIPTS`) and what its recordings' misses were read for (`READ`,
# "" if never). `probe` was written to be read (a diagnostic set); the others were
# measured blind until read.
BLIND_SETS = (heldout, unseen, sealed, reserve, vault, probe, cellar, attic, loft, den, annex, shed)


def blind_name(blind: ModuleType) -> str:
    """A blind set's name: its module's, which is also its split's."""
    return blind.__name__.rsplit(".", 1)[1]


def blind_label(blind: ModuleType) -> str:
    """How a blind set is named in the benchmarks: its name and whether it was read."""
    return f"{blind_name(blind)} dialogues ({blind.READ or 'never read'})"


def scripts_for(seed: int) -> tuple[scripts.Script, ...]:
    """The dialogues a seed's recording draws from: each blind set's seeds have their own."""
    for blind in BLIND_SETS:
        if seed in blind.SEEDS:
            return blind.SCRIPTS
    return scripts.SCRIPTS


def generate(seed: int, minutes: float = 8.0) -> Recording:
    """A rush hour of about `minutes`, the same for the same seed."""
    rng = np.random.default_rng(seed)
    seconds = minutes * 60
    mix = _Mixer(seconds + 60.0, seed)
    seller = SELLERS[seed % len(SELLERS)]
    announcers = _announcers(rng)
    pool = list(scripts_for(seed))
    order = [int(i) for i in rng.permutation(len(pool))]
    dialogues: list[dict[str, Any]] = []
    background: list[dict[str, Any]] = []
    radio_texts = iter(rng.permutation(len(scripts.RADIO)).tolist() * 10)
    t = LEAD_SEC
    for k in range(len(order) * 3):
        script = pool[order[k % len(order)]]
        if dialogues:
            if rng.random() < LULL_CHANCE:
                lull = float(rng.uniform(*LULL_SEC))
                voice = announcers[int(rng.integers(len(announcers)))]
                background.append(
                    _radio(mix, t + lull * 0.3, scripts.RADIO[next(radio_texts)], voice)
                )
                t = max(t + lull, background[-1]["end"] + float(rng.uniform(*QUEUE_GAP_SEC)))
            else:
                t += float(rng.uniform(*QUEUE_GAP_SEC))
        if t + 8 * len(script.lines) + TAIL_SEC > seconds:
            break
        d = _dialogue(mix, t, script, seller, _customer(rng, seller, k), rng)
        if rng.random() < RADIO_UNDER_CHANCE:
            voice = announcers[int(rng.integers(len(announcers)))]
            at = float(rng.uniform(d["start"], d["end"]))
            background.append(_radio(mix, at, scripts.RADIO[next(radio_texts)], voice))
        dialogues.append(d)
        t = d["end"]
    duration = round(t + TAIL_SEC, 2)
    audio = np.clip(mix.bed[: round(duration * RATE)], -1.0, 1.0).astype(np.float32)
    truth = {
        "duration": duration,
        "seed": seed,
        "seller": seller.name,
        "dialogues": dialogues,
        "background": sorted(background, key=lambda b: b["start"]),
    }
    return Recording(seed, audio, truth)


def write(seed: int, out: Path, minutes: float = 8.0) -> tuple[Path, Path]:
    """Generate one recording; (audio path, truth path). The audio is 16-bit wav: the
    recorder's opus coding is then the only lossy step, as at a real register (an opus
    file would be coded twice, and a loudspeaker's missing sibilants partly come back)."""
    rec = generate(seed, minutes)
    audio = synth.write(out / f"rushhour_{seed}.wav", rec.audio, codec="wav")
    truth = out / f"rushhour_{seed}.truth.json"
    truth.write_text(json.dumps(rec.truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return audio, truth
