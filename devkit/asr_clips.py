"""Clip sets of Russian speech with reference texts, for the ASR benchmark and tests.

Real human speech comes from two Debian packages: festvox-ru ships the studio recordings
its festival voice was built from (one male speaker, 620 read sentences of fiction,
16 kHz, texts in etc/txt.done.data), and asterisk-core-sounds-ru-wav ships a female IVR
voice (8 kHz telephone prompts; texts in core-sounds-ru.txt, many of them enumerated
menus: "нажмите 1 ..., 2 - чтобы ..."). Synthetic speech is festival's (tests/asr_samples).

Every recording belongs to the `tune` or the `test` split by a hash of its id, so nothing
chosen on the tuning clips is measured on them; `fresh` holds studio clips of test-split
recordings no test clip uses and a held-out rush-hour recording (the test clips were read
while fixing the worker). The rush-hour corpus (devkit/rushhour) gives a dev, a test and a
held-out recording's dialogues, `blind` two more held-out recordings', and `wide` nine
recordings of the unseen, sealed and reserve dialogue sets (no ASR setting was chosen or
checked on any of them). A clip set is a function from a split to clips; `SETS` is
the registry bench_asr.py reads.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from devkit import synth
from salescontrol import audio as pcm
from salescontrol.errors import PrerequisiteError

FESTVOX = Path("/usr/share/festival/voices/russian/msu_ru_nsh_clunits")
IVR = Path("/usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU")
IVR_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-ru/core-sounds-ru.txt.gz")
FRESH = "fresh"  # studio and rush-hour clips only (ONLY_SETS)
BLIND = "blind"  # rush-hour clips of two held-out recordings no ASR change was measured on
WIDE = "wide"  # rush-hour clips of nine more recordings no ASR change was measured on
SPLITS = ("tune", "test", FRESH, BLIND, WIDE)
# IVR prompts longer than this are menus and instructions: the repetitive-speech set.
MENU_MIN_SEC = 14.0
RUSH_PAD_SEC = 0.5


@dataclass(frozen=True)
class Clip:
    """16 kHz mono audio with what was said."""

    name: str
    audio: np.ndarray
    reference: str
    source: str
    lines: tuple[str, ...] = ()  # the reference, turn by turn

    @property
    def seconds(self) -> float:
        return len(self.audio) / synth.RATE


@dataclass(frozen=True)
class Recording:
    id: str
    path: Path
    text: str


def split_of(recording_id: str) -> str:
    """`tune` for about a third of the ids, `test` for the rest; fixed for ever."""
    return "tune" if hashlib.sha256(recording_id.encode()).digest()[0] % 3 == 0 else "test"


def _need(path: Path, package: str) -> None:
    if not path.exists():
        raise PrerequisiteError(
            f"{path} is missing (real Russian speech): apt-get install {package}"
        )


def festvox_recordings() -> list[Recording]:
    """The festvox-ru studio recordings and their texts (stress marks removed)."""
    _need(FESTVOX / "wav", "festvox-ru")
    found = []
    for line in (FESTVOX / "etc" / "txt.done.data").read_text(encoding="utf-8").splitlines():
        m = re.match(r'\(\s*(\S+)\s+"(.*)"\s*\)', line)
        if m and (FESTVOX / "wav" / f"{m[1]}.wav").exists():
            found.append(Recording(m[1], FESTVOX / "wav" / f"{m[1]}.wav", m[2].replace("+", "")))
    return found


def ivr_recordings() -> list[Recording]:
    """The Russian Asterisk prompts that are speech (not tones) and have a text."""
    _need(IVR, "asterisk-core-sounds-ru-wav")
    found = []
    with gzip.open(IVR_TEXTS, "rt", encoding="utf-8") as f:
        for line in f:
            name, sep, text = line.partition(":")
            text = re.sub(rf"^{re.escape(name)}:\s*", "", text.strip())  # one line repeats it
            path = IVR / f"{name}.wav"
            if sep and text and not text.startswith("[") and "/" not in name and path.exists():
                found.append(Recording(name, path, text))
    return found


def load(path: Path) -> np.ndarray:
    """A recording as 16 kHz mono float32 (the IVR's 8 kHz resampled)."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    return pcm.resample(data.mean(axis=1), rate).astype(np.float32)


def _level(audio: np.ndarray, rms_db: float = -22.0) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio**2))) or 1.0
    return (audio * (10 ** (rms_db / 20) / rms)).astype(np.float32)


@dataclass(frozen=True)
class _Plan:
    """One studio clip before its audio is made: its turns with the pause after each,
    and the level of its shop noise."""

    turns: tuple[tuple[Recording, float], ...]
    noise_db: float


def _plans(split: str, count: int | None = None) -> list[_Plan]:
    """The studio clips of `split`, drawn from its recordings (see studio_dialogues)."""
    source = "test" if split == FRESH else split
    male = [r for r in festvox_recordings() if split_of(r.id) == source]
    female = [
        r
        for r in ivr_recordings()
        if split_of(r.id) == source and sf.info(r.path).duration < MENU_MIN_SEC
    ]
    if split == FRESH:
        used = {rec.text for plan in _plans("test") for rec, _ in plan.turns}
        male = [r for r in male if r.text not in used]
        female = [r for r in female if r.text not in used]
    count = count or (6 if split == "tune" else 16)
    rng = np.random.default_rng(SPLITS.index(split))
    plans = []
    for _ in range(count):
        turns = []
        for t in range(int(rng.integers(4, 7))):
            pool = male if t % 2 == 0 else female
            rec = pool[int(rng.integers(len(pool)))]
            turns.append((rec, float(rng.uniform(0.4, 1.5))))
        plans.append(_Plan(tuple(turns), float(rng.uniform(-50, -35))))
    return plans


def studio_dialogues(split: str, count: int | None = None) -> list[Clip]:
    """Pseudo-dialogues of real speech: a festvox sentence (male), an IVR prompt (female),
    in turn, 4-6 turns, 0.4-1.5 s pauses, over shop noise at -50 to -35 dB; 16 clips
    (about 10 min) of the test split, 6 of the tuning one. `fresh`: 16 more, made the
    same way from the test split's recordings that no test clip uses (the test clips were
    read twice while fixing the worker; the fresh ones never were)."""
    clips = []
    for k, plan in enumerate(_plans(split, count)):
        parts = [synth.silence(0.3)]
        for rec, pause in plan.turns:
            parts += [_level(load(rec.path)), synth.silence(pause)]
        speech = np.concatenate(parts)
        noise = synth.shop_noise(len(speech) / synth.RATE, plan.noise_db, seed=k)
        texts = tuple(rec.text for rec, _ in plan.turns)
        clips.append(
            Clip(
                f"studio-{split}-{k:02d}",
                synth.mix(speech, noise),
                " ".join(texts),
                "studio",
                texts,
            )
        )
    return clips


def ivr_menus(split: str) -> list[Clip]:
    """Real repetitive speech: the long IVR prompts (enumerated menus, instructions)."""
    return [
        Clip(f"ivr-{r.id}", load(r.path), r.text, "ivr menus")
        for r in ivr_recordings()
        if split_of(r.id) == split and sf.info(r.path).duration >= MENU_MIN_SEC
    ]


def festival_dialogues(split: str) -> list[Clip]:
    """Festival-synthesised shop dialogues over shop noise (tests/asr_samples, scene)."""
    from devkit import scene

    rng = np.random.default_rng(10 + SPLITS.index(split))
    lines = [(0, t) for t in scene.SELLER] + [(-300, t) for t in scene.CUSTOMER]
    lines = [ln for ln in lines if split_of(ln[1]) == split]
    clips = []
    for k in range(6 if split == "test" else 3):
        chosen = [lines[int(i)] for i in rng.choice(len(lines), size=min(6, len(lines)))]
        parts = [synth.silence(0.3)]
        for pitch, text in chosen:
            parts += [synth.speak(text, pitch_cents=pitch), synth.silence(0.6)]
        speech = np.concatenate(parts)
        noise = synth.shop_noise(len(speech) / synth.RATE, -40.0, seed=20 + k)
        text = " ".join(t for _, t in chosen)
        clips.append(Clip(f"festival-{split}-{k}", synth.mix(speech, noise), text, "festival"))
    return clips


def rushhour_dialogues(split: str) -> list[Clip]:
    """The dialogues of one rush-hour recording (devkit/rushhour: a seller at the
    microphone, far espeak-ng and festival customers, overlapping replies, a radio and music
    under them), each cut with RUSH_PAD_SEC either side: a dev recording for `tune`, a
    test one for `test`, a held-out one for `fresh`, the other two held-out ones for
    `blind`, the unseen, sealed and reserve ones for `wide`."""
    from devkit import evaluation, rushhour

    seeds = {
        "tune": rushhour.DEV_SEEDS[:1],
        "test": rushhour.TEST_SEEDS[:1],
        FRESH: rushhour.HELDOUT_SEEDS[:1],
        BLIND: rushhour.HELDOUT_SEEDS[1:],
        WIDE: rushhour.UNSEEN_SEEDS + rushhour.SEALED_SEEDS + rushhour.SPLITS["reserve"],
    }[split]
    clips = []
    for seed in seeds:
        rec = rushhour.generate(seed)
        for k, d in enumerate(evaluation.parse_truth(rec.truth).dialogues):
            a = max(0, round((d.start - RUSH_PAD_SEC) * synth.RATE))
            b = round((d.end + RUSH_PAD_SEC) * synth.RATE)
            clips.append(Clip(f"rushhour-{seed}-{k:02d}", rec.audio[a:b], d.text, "rush hour"))
    return clips


# name -> (what it is, clips of a split); ordinary speech first, then the guard set.
SETS: dict[str, tuple[str, Callable[[str], list[Clip]]]] = {
    "studio": ("real read speech, two speakers in turn, shop noise", studio_dialogues),
    "festival": ("festival shop dialogues, shop noise", festival_dialogues),
    "rushhour": ("rush-hour dialogues: far customers, overlaps, radio under", rushhour_dialogues),
    "ivr-menus": ("real repetitive speech: IVR menus and instructions", ivr_menus),
}
ORDINARY = ("studio", "festival", "rushhour")
# The splits with clips of some sets only.
ONLY_SETS = {FRESH: ("studio", "rushhour"), BLIND: ("rushhour",), WIDE: ("rushhour",)}
