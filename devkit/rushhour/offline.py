"""The rush-hour segmentation without the stack: what vad and assemble would decide.

Each 60 s chunk is encoded as the recorder encodes it (24 kbit/s opus) and decoded as
the vad function decodes it, then goes through that function's own steps (`salescontrol.vad`, then
`voiceprint.analyse`: background speech split off, voice windows embedded), the windows
lie on one timeline, and `timeline.plan` assembles with the same `cut` as the assemble
function. Roles are labelled per window as the ASR worker labels them, with the seller
voices learned in memory in time order. Seconds of CPU for a recording, not minutes:
for tuning on the dev split and for tests; the whole pipeline is `salescontrol eval`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from asr_service import roles
from devkit import evaluation
from functions.vad import voiceprint
from recorder.writer import compression_level
from salescontrol import audio as codec
from salescontrol import speakers, timeline, vad, voices
from salescontrol.audio import RATE

CHUNK_SEC = 60.0
BITRATE = 24000  # the recorder's default (devkit.pipeline_run.recorder_config)
PARAMS = timeline.Params(gap_ms=12_000, max_ms=120_000, min_speech_ms=1_500)


@dataclass
class Offline:
    spans: list[timeline.Span]  # the dialogues
    windows: list[speakers.Window]
    background: list[tuple[int, int]]  # ms: speech segments and stretches dropped as such
    turns: list[evaluation.Turn]  # window roles of the dialogues, seconds


def as_uploaded(chunk: np.ndarray) -> np.ndarray:
    """`chunk` after the recorder's opus encoder and the vad function's decoder."""
    buf = io.BytesIO()
    level = compression_level(BITRATE)
    sf.write(buf, chunk, RATE, format="OGG", subtype="OPUS", compression_level=level)
    return codec.decode(buf.getvalue())


def run(audio: np.ndarray, params: timeline.Params = PARAMS) -> Offline:
    """Segments, windows, background and dialogues of 16 kHz `audio` (times in ms)."""
    step = round(CHUNK_SEC * RATE)
    segments: list[timeline.Interval] = []
    heard: list[speakers.Window] = []
    background: list[tuple[int, int]] = []
    for i in range(0, len(audio), step):
        chunk = as_uploaded(audio[i : i + step])
        off = round(i * 1000 / RATE)
        speech = voiceprint.analyse(chunk, vad.speech_segments(chunk, vad.VadOptions()))
        segments += [(off + a, off + b) for a, b in speech.segments]
        background += [(off + a, off + b) for a, b in speech.background]
        heard += [
            speakers.Window(off + w.start_ms, off + w.end_ms, w.embedding, w.level_db)
            for w in speech.windows
        ]
    total = round(len(audio) * 1000 / RATE)
    voice = speakers.Params()
    planned = timeline.plan(
        segments, [(-(2**62), total)], params, force=True, cut=voices.cutter(heard, voice)
    )
    kinds: dict[voices.SpanKind, list[timeline.Span]] = {k: [] for k in voices.SpanKind}
    for s in planned:
        kinds[voices.span_kind(s, heard, voice)].append(s)
    spans = kinds[voices.SpanKind.DIALOGUE]
    background += [(s.start_ms, s.end_ms) for s in kinds[voices.SpanKind.BACKGROUND]]
    return Offline(spans, heard, sorted(background), _turns(spans, heard))


def _turns(spans: list[timeline.Span], heard: list[speakers.Window]) -> list[evaluation.Turn]:
    known: list[list[Any]] = []  # [voice, dialogues], as asr_service.roles.learn_seller
    out = []
    for span in spans:
        mine = [w for w in heard if span.start_ms <= w.start_ms < span.end_ms]
        sellers = [v for v, n in known if n >= roles.SELLER_AFTER]
        seller = speakers.dominant_voice(mine, roles.PARAMS, sellers)
        if seller is None:
            continue
        best = max(known, key=lambda k: float(k[0] @ seller), default=None)
        if best is not None and float(best[0] @ seller) >= roles.SAME_SELLER:
            best[0], best[1] = speakers.unit(best[0] * min(best[1], 50) + seller), best[1] + 1
        else:
            known.append([seller, 1])
        out += [evaluation.Turn(a / 1000, b / 1000, r) for a, b, r, _ in roles.turns(mine, seller)]
    return out


def score(truth: evaluation.Truth, result: Offline) -> dict[str, Any]:
    """Segmentation, background and (window-level) role figures against the truth."""
    found = [
        evaluation.FoundDialogue(
            s.start_ms / 1000,
            s.end_ms / 1000,
            roles=tuple(t for t in result.turns if s.start_ms <= t.start * 1000 < s.end_ms),
        )
        for s in result.spans
    ]
    figures = evaluation.score(truth, found)
    keep = ("dialogues_true", "dialogues_found", "dialogues_matched", "segmentation_precision")
    keep += ("segmentation_recall", "segmentation_f1", "role_accuracy", "role_coverage")
    return {
        **{k: figures[k] for k in (*keep, "dialogues_from_background")},
        "background_sec": round(sum(b - a for a, b in result.background) / 1000, 1),
    }
