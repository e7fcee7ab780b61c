"""Evidence that Whisper invented text, judged per segment, never per window.

Real speech repeats itself ("два батона, два кефира, два молока"; an IVR menu's "нажмите
1 ..., 2 - чтобы ...") and such text compresses well: a window-wide gzip ratio cannot
tell it from a decoding loop, so it only asks for a second decode (transcribe.py), and
text is removed only on evidence of its own:
- a loop: the same words repeated back to back more often than people do (LOOP_COPIES);
  the copies after the first are removed, the rest of the segment kept; a word that
  loops inside itself (WORD_LOOP) is removed;
- silence: Whisper's own rule, no-speech probability above its threshold *and* a window
  log-probability below its threshold;
- a phantom: one of the lines Whisper learned from subtitle credits, alone in a short
  segment, on audio the VAD did not call speech or decoded with low confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Lines Whisper writes on near-silence because its training subtitles ended with them.
PHANTOM = re.compile(
    r"продолжение\s+следует|субтитры\s+(сделал|создавал|подготовил|делал)|"
    r"редактор\s+субтитров|корректор\s+[а-я]\.|спасибо\s+за\s+(просмотр|внимание)|"
    r"подписывайтесь\s+на\s+канал|ставьте\s+лайк|dimatorzok|amara\.org|"
    r"телефонный\s+звонок|(^|\s)музыка(\s|$)|аплодисменты",
    re.IGNORECASE,
)
PHANTOM_MAX_WORDS = 8
PHANTOM_MIN_SPEECH = 0.5  # a phantom is kept on audio the VAD calls speech this much
LOOP = "repetition_loop"  # the reason a loop's copies are dropped
MAX_LOOP_WORDS = 12  # longest repeated phrase looked for
# A loop inside one word: a piece of 1-4 letters 6 or more times back to back
# ("дитититититити..."); no Russian word repeats a syllable so.
WORD_LOOP = re.compile(r"([^\W\d_]{1,4}?)\1{5,}")
# Back-to-back copies that make a loop: people say "нет, нет, нет", rarely four times.
LOOP_COPIES = {1: 5}
LOOP_COPIES_PHRASE = 4


@dataclass
class Piece:
    """One decoded segment on the dialogue's time line, as the guards see it."""

    start: float
    end: float
    words: list[str]  # the text split on whitespace
    avg_logprob: float  # of its window
    no_speech_prob: float  # of its window
    speech: float  # share of its span the VAD called speech
    timings: list[dict[str, Any]] | None = None  # word timestamps, one per word
    removed: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.words)


def _key(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower())


def loop_runs(words: list[str]) -> list[tuple[int, int]]:
    """(start, end) word indexes of the copies to remove: every copy of a looping phrase
    after the first."""
    keys = [_key(w) for w in words]
    runs, i = [], 0
    while i < len(keys):
        found = None
        for n in range(1, MAX_LOOP_WORDS + 1):
            phrase = keys[i : i + n]
            if len(phrase) < n or not any(phrase):
                break
            copies = 1
            while keys[i + copies * n : i + (copies + 1) * n] == phrase:
                copies += 1
            if copies >= LOOP_COPIES.get(n, LOOP_COPIES_PHRASE):
                found = (i + n, i + copies * n)
                break
        if found:
            runs.append(found)
            i = found[1]
        else:
            i += 1
    return runs


def remove_loops(pieces: list[Piece]) -> None:
    """Cut looping copies out of one window's segments (a loop may cross segments), and
    words that loop inside themselves."""
    owners = [(p, k) for p in pieces for k in range(len(p.words))]
    doomed: set[tuple[int, int]] = set()
    for a, b in loop_runs([p.words[k] for p, k in owners]):
        doomed.update((id(p), k) for p, k in owners[a:b])
    doomed.update((id(p), k) for p, k in owners if WORD_LOOP.search(p.words[k]))
    if not doomed:
        return
    for p in pieces:
        keep = [k for k in range(len(p.words)) if (id(p), k) not in doomed]
        if len(keep) == len(p.words):
            continue
        p.removed.extend(p.words[k] for k in range(len(p.words)) if (id(p), k) in doomed)
        if p.timings is not None and len(p.timings) == len(p.words):
            p.timings = [p.timings[k] for k in keep]
        else:
            p.timings = None
        p.words = [p.words[k] for k in keep]


def silent(avg_logprob: float, no_speech_prob: float, options: Any) -> bool:
    """Whisper's own silence rule for a window."""
    return no_speech_prob > options.no_speech_threshold and avg_logprob < options.log_prob_threshold


def phantom(piece: Piece, options: Any) -> bool:
    """A subtitle credit alone in a short segment, on little speech or low confidence."""
    text = piece.text
    if not PHANTOM.search(text) or len(piece.words) > PHANTOM_MAX_WORDS:
        return False
    return (
        piece.speech < PHANTOM_MIN_SPEECH
        or piece.avg_logprob < options.log_prob_threshold
        or piece.no_speech_prob > options.no_speech_threshold
    )


def judge(pieces: list[Piece], options: Any) -> tuple[list[Piece], list[dict[str, Any]]]:
    """(kept pieces, dropped text with its reason) of one window."""
    dropped: list[dict[str, Any]] = []
    if pieces and silent(pieces[0].avg_logprob, pieces[0].no_speech_prob, options):
        return [], [record(p, p.text, "no_speech") for p in pieces]
    remove_loops(pieces)
    kept = []
    for p in pieces:
        if p.removed:
            dropped.append(record(p, " ".join(p.removed), LOOP))
        if not p.words:
            continue
        if phantom(p, options):
            dropped.append(record(p, p.text, "phantom_line"))
            continue
        kept.append(p)
    return kept, dropped


def record(piece: Piece, text: str, why: str) -> dict[str, Any]:
    return {"text": text, "start": round(piece.start, 2), "why": why}
