"""Batched decoding of a dialogue's speech windows, one re-decode where Whisper would
fall back, then the guards (guards.py).

The dialogue's speech (Silero VAD, the detector faster-whisper ships) is packed into
≤ 30 s windows (windows.py), which are encoded and beam-searched together through the
CTranslate2 batch API: the pauses between turns are never decoded, and one batched call
does the work of several sequential ones. Whisper's own loop (`WhisperModel.transcribe`)
re-decodes a window at rising temperatures up to five times when its text compresses too
well or its log-probability is low; here such a window is re-decoded once (beam search
if the first pass was narrower, or, when the first pass loops, beam search that may not
repeat LOOP_NO_REPEAT tokens; then sampling at FALLBACK_TEMPERATURE) and the better result
kept by Whisper's rule. A decode is capped at MAX_TOKENS_PER_SEC of its window, so that a
loop stops early. A window of several pieces that still loops from its first piece has
its pieces decoded again one window each. Nothing is dropped for a window's ratio
(guards.py).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from asr_service import guards, windows
from asr_service.windows import RATE, Window
from salescontrol import vad
from salescontrol.config import Settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

FALLBACK_TEMPERATURE = 0.2
FALLBACK_BEAM = 5  # Whisper's default beam: the re-decode of a narrower first pass
MAX_INITIAL_TIMESTAMP_INDEX = 50  # 1 s, as WhisperModel.transcribe
FULL_FRAMES = 3000  # 30 s of 10 ms mel frames: Whisper's input
TRIM_STEP_SEC = 2  # a trimmed input is a whole number of 2 s (the encoder halves frames)
TRIM_MARGIN_SEC = 1.0
# Whisper leaves speech near a full window's end for the next window (WhisperModel.transcribe
# seeks to the last timestamp). Windows here hold different audio, so the rest after a
# window's last timestamp, when longer than TAIL_MIN_SEC and mostly speech, is decoded
# again, tails packed together, for at most TAIL_ROUNDS more rounds. So is the rest after
# the first copy of a loop that ran to the token cap: that audio was never decoded.
TAIL_MIN_SEC = 1.0
TAIL_MIN_SPEECH = 0.3  # share of the rest the VAD called speech
TAIL_ROUNDS = 2
# A decode may hold at most this many tokens (text and timestamps) per second of its
# window, plus MIN_TOKENS: speech on the tuning clips ran to 7 per second, a decoding
# loop runs on to CTranslate2's limit (224 tokens: half of Whisper's 448, as OpenAI's
# sample_len) at 14-24 per second, and each token of a beam costs the same. A decode
# that reaches the cap is a loop: decoded again like one.
MAX_TOKENS_PER_SEC = 10.0
MIN_TOKENS = 16
# A window whose first pass loops is decoded again by beam search that may not repeat any
# run of this many tokens: on the tuning loops it lowered CER from 0.56 (sampling) to
# 0.31 at two thirds of the time, and it is deterministic (CTranslate2's sampling is not,
# whatever the seed: CTranslate2 issue #1757).
LOOP_NO_REPEAT = 5
PUNCTUATION = ("\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")  # faster-whisper's word merging


class Interrupted(Exception):
    """Transcription stopped between batches because the worker is shutting down."""


@dataclass(frozen=True)
class Options:
    """The decoding options of one pass; stored with each transcript."""

    language: str
    beam_size: int
    batch_size: int
    word_timestamps: bool
    no_speech_threshold: float
    compression_ratio_threshold: float
    log_prob_threshold: float = -1.0
    fallback_temperature: float = FALLBACK_TEMPERATURE
    trim_windows: bool = False
    window_sec: float = windows.WINDOW_SEC

    @classmethod
    def from_settings(cls, s: Settings, language: str | None = None) -> Options:
        return cls(
            language=language or s.whisper_language,
            beam_size=s.asr_beam_size,
            batch_size=s.asr_batch_windows,
            word_timestamps=s.asr_word_timestamps,
            no_speech_threshold=s.asr_no_speech_threshold,
            compression_ratio_threshold=s.asr_compression_ratio_threshold,
            log_prob_threshold=s.asr_log_prob_threshold,
            trim_windows=s.asr_trim_windows,
            window_sec=s.asr_window_sec,
        )


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
    redecoded: int = 0  # windows decoded a second time


@dataclass
class Decoded:
    """One window's decode: tokens and Whisper's quality measures."""

    tokens: list[int]
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    capped: bool = False  # ran to the token cap without ending


def compression_ratio(text: str) -> float:
    """Whisper's gzip ratio of a text (faster_whisper.transcribe.get_compression_ratio)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def needs_fallback(d: Decoded, options: Options) -> bool:
    """Where WhisperModel.transcribe would decode the window again."""
    if guards.silent(d.avg_logprob, d.no_speech_prob, options):
        return False
    return (
        d.capped
        or d.compression_ratio > options.compression_ratio_threshold
        or d.avg_logprob < options.log_prob_threshold
    )


def better(attempts: list[Decoded], options: Options) -> Decoded:
    """Whisper's choice: the first attempt that passes, else the most probable of those
    under the compression threshold, else of all."""
    for d in attempts:
        if not needs_fallback(d, options):
            return d
    calm = [
        d
        for d in attempts
        if not d.capped and d.compression_ratio <= options.compression_ratio_threshold
    ]
    return max(calm or attempts, key=lambda d: d.avg_logprob)


class Decoder:
    """One model's batched decoding of windows in one language."""

    def __init__(self, model: WhisperModel, language: str) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        self.prompt = model.get_prompt(self.tokenizer, [], without_timestamps=False)
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])

    def encode(self, audios: list[np.ndarray], trim: bool) -> Any:
        """The encoder's output for a batch of windows: 30 s each, or with `trim` only as
        long as the longest window plus TRIM_MARGIN_SEC of padding."""
        from faster_whisper.audio import pad_or_trim

        features = [self.model.feature_extractor(a)[..., :-1] for a in audios]
        frames = FULL_FRAMES
        if trim:
            longest = max(len(a) for a in audios) / RATE + TRIM_MARGIN_SEC
            frames = min(FULL_FRAMES, int(np.ceil(longest / TRIM_STEP_SEC)) * TRIM_STEP_SEC * 100)
        return self.model.encode(np.stack([pad_or_trim(f, frames) for f in features]))

    def rows(self, encoded: Any, ks: list[int], audios: list[np.ndarray], trim: bool) -> Any:
        """The encoder output of windows `ks` of a batch: cut from the batch's on the CPU
        (the encoder output already holds them), encoded again on a GPU (its storage
        cannot be viewed from numpy)."""
        if encoded.device != "cpu":
            return self.encode([audios[k] for k in ks], trim)
        import ctranslate2

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(np.asarray(encoded)[ks]))

    def cap(self, seconds: float) -> int:
        """The most tokens a decode of `seconds` of audio may hold (the prompt not counted)."""
        return min(
            self.limit(self.model.max_length),
            MIN_TOKENS + int(np.ceil(seconds * MAX_TOKENS_PER_SEC)),
        )

    def limit(self, max_length: int) -> int:
        """The tokens CTranslate2 lets a decode hold for `max_length`: half of it, at most
        what the prompt leaves (whisper.cc; CTranslate2 issue #1856)."""
        return min(max_length // 2, max_length - len(self.prompt))

    def generate(
        self,
        encoded: Any,
        count: int,
        beam: int,
        temperature: float,
        seconds: float,
        no_repeat: int = 0,
    ) -> list[Decoded]:
        """Decode `count` encoded windows, the longest `seconds` long (the token cap);
        `no_repeat` forbids repeating any run of that many tokens."""
        if temperature > 0:
            search = {"beam_size": 1, "num_hypotheses": 5, "sampling_topk": 0}
        else:
            search = {"beam_size": beam, "patience": 1}
        if no_repeat:
            search["no_repeat_ngram_size"] = no_repeat
        cap = self.cap(seconds)
        max_length = min(self.model.max_length, 2 * cap)
        results = self.model.model.generate(
            encoded,
            [self.prompt] * count,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
            max_initial_timestamp_index=MAX_INITIAL_TIMESTAMP_INDEX,
            sampling_temperature=max(temperature, 1e-5) if temperature > 0 else 1.0,
            **search,
        )
        decoded = []
        for r in results:
            tokens = r.sequences_ids[0]
            # faster-whisper's recovery of the average log-probability from the score
            avg_logprob = r.scores[0] * len(tokens) / (len(tokens) + 1)
            text = self.tokenizer.decode([t for t in tokens if t < self.tokenizer.eot]).strip()
            decoded.append(
                Decoded(
                    tokens,
                    text,
                    avg_logprob,
                    r.no_speech_prob,
                    compression_ratio(text),
                    temperature,
                    capped=len(tokens) >= self.limit(max_length),
                )
            )
        return decoded

    def segments(self, tokens: list[int], seconds: float) -> list[dict[str, Any]]:
        """Timestamped segments of one window's tokens; unfinished trailing text kept."""
        begin, eot = self.tokenizer.timestamp_begin, self.tokenizer.eot
        found: list[dict[str, Any]] = []
        start, text = 0.0, []
        for tok in tokens:
            if tok >= begin:
                at = min((tok - begin) * 0.02, seconds)
                if text:
                    found.append({"seek": 0, "start": start, "end": at, "tokens": text})
                    text = []
                start = at
            elif tok < eot:
                text.append(tok)
        if text:
            found.append({"seek": 0, "start": start, "end": seconds, "tokens": text})
        return [s for s in found if self.tokenizer.decode(s["tokens"]).strip()]

    def add_words(
        self,
        audios: list[np.ndarray],
        batches: list[list[dict[str, Any]]],
        encoded: Any,
        trim: bool,
    ) -> None:
        """Word timestamps for the windows that have text, aligned on the batch's encoder
        output (only those rows of it, when some window has no text)."""
        having = [k for k, segs in enumerate(batches) if segs]
        if not having:
            return
        if len(having) < len(batches):
            encoded = self.rows(encoded, having, audios, trim)
        frames = [round(len(audios[k]) / RATE * self.model.frames_per_second) for k in having]
        self.model.add_word_timestamps(
            [batches[k] for k in having], self.tokenizer, encoded, frames, *PUNCTUATION, 0.0
        )


def _check(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Interrupted("stopped during transcription")


def _decode_windows(
    decoder: Decoder, audios: list[np.ndarray], options: Options, stop: threading.Event | None
) -> tuple[list[Decoded], int, Any]:
    """Each window's best decode, how many were decoded again, the encoder output."""
    encoded = decoder.encode(audios, options.trim_windows)
    longest = max(len(a) for a in audios) / RATE
    first = decoder.generate(encoded, len(audios), options.beam_size, 0.0, longest)
    again = [k for k, d in enumerate(first) if needs_fallback(d, options)]
    for k in again:
        _check(stop)
        one = decoder.rows(encoded, [k], audios, options.trim_windows)
        attempts = [first[k]]
        plan = [(FALLBACK_BEAM, 0.0, 0)] if options.beam_size < FALLBACK_BEAM else []
        if looping(first[k]):
            plan = [(FALLBACK_BEAM, 0.0, LOOP_NO_REPEAT)]
        for beam, temperature, no_repeat in [*plan, (1, options.fallback_temperature, 0)]:
            attempts += decoder.generate(
                one, 1, beam, temperature, len(audios[k]) / RATE, no_repeat
            )
            if not needs_fallback(attempts[-1], options):
                break
        first[k] = better(attempts, options)
    return first, len(again), encoded


def looping(d: Decoded) -> bool:
    """A decode that loops: ran to the cap, repeats words, or repeats inside a word."""
    return d.capped or bool(guards.loop_runs(d.text.split()) or guards.WORD_LOOP.search(d.text))


def _pieces(
    decoder: Decoder,
    window: Window,
    d: Decoded,
    segs: list[dict[str, Any]],
    flags: np.ndarray,
    frame: int,
) -> list[guards.Piece]:
    pieces = []
    for s in segs:
        for start, end, words, timings in _parts(decoder, window, s):
            pieces.append(
                guards.Piece(
                    start,
                    end,
                    words,
                    d.avg_logprob,
                    d.no_speech_prob,
                    windows.speech_fraction(flags, frame, start, end),
                    timings,
                )
            )
    return pieces


def _parts(
    decoder: Decoder, window: Window, s: dict[str, Any]
) -> list[tuple[float, float, list[str], list[dict[str, Any]] | None]]:
    """A segment on the dialogue's time line: (start, end, words, word timings). With word
    timestamps, one part per piece of the window its words fall in, each timed by its own
    words held inside that piece: a window packs audio from far apart (the tails of
    several windows), and a segment, or one word, over two pieces would put the later
    words at the earlier time."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for w in s.get("words") or []:
        if w["word"].strip():
            groups.setdefault(window.piece_at((w["start"] + w["end"]) / 2), []).append(w)
    if not groups:
        start, end = window.to_dialogue(s["start"]), window.to_dialogue(s["end"])
        timings = [] if "words" in s else None
        return [(start, end, decoder.tokenizer.decode(s["tokens"]).split(), timings)]
    parts = []
    for k, words in groups.items():
        timed = [
            {
                "start": round(window.in_piece(w["start"], k), 2),
                "end": round(window.in_piece(w["end"], k), 2),
                "word": w["word"].strip(),
            }
            for w in words
        ]
        parts.append((timed[0]["start"], timed[-1]["end"], [t["word"] for t in timed], timed))
    return parts


def _loops_from_the_start(window: Window, d: Decoded, bad: list[dict[str, Any]]) -> bool:
    """Whether a window of several pieces still loops after its re-decode, the loop
    starting in its first piece: one piece (a radio jingle, a far voice) set off a loop
    that took the whole window ("сиди, сиди, …" for a dialogue of 21 words). Its pieces
    are decoded again one window each, so that the others are heard."""
    first_end = window.pieces[0][1] / RATE
    loops = [b["start"] for b in bad if b["why"] == guards.LOOP]
    return len(window.pieces) > 1 and looping(d) and bool(loops) and min(loops) < first_end


def _rest(
    window: Window, d: Decoded, segs: list[dict[str, Any]], good: list[guards.Piece], seconds: float
) -> list[tuple[int, int]]:
    """The window's audio to decode again (TAIL_MIN_SEC or more of it): after its last
    timestamp, or, when a loop ran to the token cap, after the last word kept."""
    if not good:
        return []
    if d.capped:
        last = good[-1]
        end = last.timings[-1]["end"] if last.timings else last.end
        rest = window.since(end)
    elif seconds - segs[-1]["end"] >= TAIL_MIN_SEC:
        rest = window.after(segs[-1]["end"])
    else:
        return []
    return rest if sum(b - a for a, b in rest) >= TAIL_MIN_SEC * RATE else []


def _record(p: guards.Piece) -> dict[str, Any]:
    record: dict[str, Any] = {
        "start": round(p.start, 2),
        "end": round(p.end, 2),
        "text": p.text,
        "avg_logprob": round(p.avg_logprob, 3),
        "no_speech_prob": round(p.no_speech_prob, 3),
    }
    if p.timings is not None:
        record["words"] = p.timings
    return record


def transcribe(
    model: WhisperModel,
    model_name: str,
    audio: np.ndarray,
    options: Options,
    stop: threading.Event | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono audio with `options`; raise Interrupted if `stop` is set
    between batches or re-decodes."""
    started = time.perf_counter()
    flags, frame = vad.frame_flags(audio, windows.VAD)
    found = windows.pack(audio, windows.speech_spans(audio, flags, frame), options.window_sec)
    decoder = Decoder(model, options.language)
    kept: list[guards.Piece] = []
    dropped: list[dict[str, Any]] = []
    tokens = 0.0
    weight = 0
    redecoded = 0
    decoded_windows = 0
    for round_ in range(TAIL_ROUNDS + 1):
        tails: list[tuple[int, int]] = []
        alone: list[Window] = []  # the pieces of windows that looped from their first piece
        for i in range(0, len(found), options.batch_size):
            _check(stop)
            batch = found[i : i + options.batch_size]
            audios = [w.audio(audio) for w in batch]
            decoded, again, encoded = _decode_windows(decoder, audios, options, stop)
            redecoded += again
            decoded_windows += len(batch)
            segs = [
                decoder.segments(d.tokens, len(a) / RATE)
                for d, a in zip(decoded, audios, strict=True)
            ]
            if options.word_timestamps:
                decoder.add_words(audios, segs, encoded, options.trim_windows)
            for window, d, s, a in zip(batch, decoded, segs, audios, strict=True):
                good, bad = guards.judge(_pieces(decoder, window, d, s, flags, frame), options)
                dropped += bad
                if round_ < TAIL_ROUNDS and _loops_from_the_start(window, d, bad):
                    alone += [Window((piece,)) for piece in window.pieces]
                    dropped += [
                        guards.record(p, p.text, "decoded_again_piece_by_piece") for p in good
                    ]
                    continue
                kept += good
                if good:
                    tokens += d.avg_logprob * len(d.tokens)
                    weight += len(d.tokens)
                rest = _rest(window, d, s, good, len(a) / RATE)
                if rest and windows.speech_share(flags, frame, rest) >= TAIL_MIN_SPEECH:
                    tails += rest
        if not (tails or alone) or round_ == TAIL_ROUNDS:
            break
        found = windows.pack(audio, tails, options.window_sec) + alone
    kept.sort(key=lambda p: p.start)
    dropped.sort(key=lambda d: d["start"])
    return Transcript(
        text=" ".join(p.text for p in kept),
        segments=[_record(p) for p in kept],
        language=options.language,
        model=model_name,
        avg_logprob=tokens / weight if weight else None,
        audio_sec=round(len(audio) / RATE, 3),
        processing_sec=round(time.perf_counter() - started, 3),
        # what was decoded, beside how: the windows and how many were decoded again
        options={
            **dataclasses.asdict(options),
            "windows": decoded_windows,
            "redecoded": redecoded,
        },
        dropped=dropped,
        redecoded=redecoded,
    )
