"""Decoding with the measured settings, and guards against Whisper's hallucinations.

Dialogue audio is already cut by VAD, so faster-whisper's own VAD is off. Decoding is
beam search at temperature 0 only: the default temperature fallback re-decodes a hard
window up to five times (a bad clip ran 10x slower) and is where much invented text
comes from. Segments are then dropped when Whisper itself thinks they are silence,
when they are decoding loops (gzip compression ratio), when they repeat the previous
segment, or when they are one of the phantom lines Whisper learned from subtitles.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from salescontrol.config import Settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment

RATE = 16000

# Lines Whisper writes on near-silence because its training subtitles ended with them.
PHANTOM = re.compile(
    r"продолжение\s+следует|субтитры\s+(сделал|создавал|подготовил|делал)|"
    r"редактор\s+субтитров|корректор\s+[а-я]\.|спасибо\s+за\s+(просмотр|внимание)|"
    r"подписывайтесь\s+на\s+канал|ставьте\s+лайк|dimatorzok|amara\.org|"
    r"телефонный\s+звонок|(^|\s)музыка(\s|$)|аплодисменты",
    re.IGNORECASE,
)


class Interrupted(Exception):
    """Transcription stopped between segments because the worker is shutting down."""


@dataclass(frozen=True)
class Options:
    """The decoding options of one pass; stored with each transcript."""

    language: str
    beam_size: int
    word_timestamps: bool
    no_speech_threshold: float
    compression_ratio_threshold: float
    temperature: float = 0.0
    condition_on_previous_text: bool = False

    @classmethod
    def from_settings(cls, s: Settings, language: str | None = None) -> Options:
        return cls(
            language=language or s.whisper_language,
            beam_size=s.asr_beam_size,
            word_timestamps=s.asr_word_timestamps,
            no_speech_threshold=s.asr_no_speech_threshold,
            compression_ratio_threshold=s.asr_compression_ratio_threshold,
        )

    def whisper_kwargs(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "beam_size": self.beam_size,
            "temperature": self.temperature,
            "condition_on_previous_text": self.condition_on_previous_text,
            "word_timestamps": self.word_timestamps,
            # Our own guards below drop the segments; Whisper's would trigger fallback.
            "compression_ratio_threshold": None,
            "log_prob_threshold": None,
            "no_speech_threshold": None,
            "vad_filter": False,
        }


@dataclass
class Transcript:
    """One dialogue's transcription result, shaped like a dialogue_transcripts row."""

    text: str
    segments: list[dict[str, Any]]
    language: str
    model: str
    avg_logprob: float | None
    audio_sec: float
    processing_sec: float
    options: dict[str, Any]
    dropped: list[dict[str, Any]] = field(default_factory=list)


def _phantom(text: str) -> bool:
    return bool(PHANTOM.search(text)) and len(text.split()) <= 8


def _drop_reason(seg: Segment, previous: str | None, options: Options) -> str | None:
    text = seg.text.strip()
    if not text:
        return "empty"
    if seg.no_speech_prob > options.no_speech_threshold:
        return "no_speech"
    if seg.compression_ratio > options.compression_ratio_threshold:
        return "repetition"
    if previous is not None and text.lower() == previous.lower():
        return "repeated_segment"
    if _phantom(text):
        return "phantom_line"
    return None


def _segment_record(seg: Segment) -> dict[str, Any]:
    record: dict[str, Any] = {
        "start": round(seg.start, 2),
        "end": round(seg.end, 2),
        "text": seg.text.strip(),
        "avg_logprob": round(seg.avg_logprob, 3),
        "no_speech_prob": round(seg.no_speech_prob, 3),
    }
    if seg.words:
        record["words"] = [
            {"start": round(w.start, 2), "end": round(w.end, 2), "word": w.word.strip()}
            for w in seg.words
        ]
    return record


def filter_segments(
    segments: Iterable[Segment], options: Options, stop: threading.Event | None = None
) -> tuple[list[Segment], list[dict[str, Any]]]:
    """(kept segments, dropped ones with their reason); checks `stop` between segments."""
    kept: list[Segment] = []
    dropped: list[dict[str, Any]] = []
    previous: str | None = None
    for seg in segments:  # lazy: each step decodes one 30 s window
        if stop is not None and stop.is_set():
            raise Interrupted("stopped during transcription")
        reason = _drop_reason(seg, previous, options)
        if reason:
            dropped.append({"text": seg.text.strip(), "start": round(seg.start, 2), "why": reason})
            continue
        kept.append(seg)
        previous = seg.text.strip()
    return kept, dropped


def transcribe(
    model: WhisperModel,
    model_name: str,
    audio: np.ndarray,
    options: Options,
    stop: threading.Event | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono audio with `options`; raise Interrupted if `stop` is set."""
    started = time.perf_counter()
    segments, info = model.transcribe(audio, **options.whisper_kwargs())
    kept, dropped = filter_segments(segments, options, stop)
    tokens = sum(len(s.tokens) for s in kept)
    avg_logprob = sum(s.avg_logprob * len(s.tokens) for s in kept) / tokens if tokens else None
    return Transcript(
        text=" ".join(s.text.strip() for s in kept),
        segments=[_segment_record(s) for s in kept],
        language=info.language,
        model=model_name,
        avg_logprob=avg_logprob,
        audio_sec=round(len(audio) / RATE, 3),
        processing_sec=round(time.perf_counter() - started, 3),
        options=dataclasses.asdict(options),
        dropped=dropped,
    )
