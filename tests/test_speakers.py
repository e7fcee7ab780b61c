"""Customer changes and roles from voice windows (salescontrol/speakers.py, pure), the
queue split inside timeline.plan under any arrival order, and roles on transcript
segments (asr_service/roles.py)."""

from __future__ import annotations

import random

import numpy as np

from asr_service import roles
from salescontrol import speakers, timeline, voices
from salescontrol.timeline import Params

P = Params(gap_ms=12_000, max_ms=120_000, min_speech_ms=1_500)
SP = speakers.Params()
SELLER_DB, CUSTOMER_DB = -24.0, -30.0


def _voice(rng: np.random.Generator) -> np.ndarray:
    return speakers.unit(rng.standard_normal(256))


def _windows(voice: np.ndarray, start: int, end: int, level: float, rng) -> list[speakers.Window]:
    """About-a-second windows of one voice: each its own noisy copy (~0.8 cosine)."""
    out, t = [], start
    while t < end:
        e = min(end, t + 1_000)
        noisy = speakers.unit(voice + 0.5 * speakers.unit(rng.standard_normal(256)))
        out.append(speakers.Window(t, e, noisy.astype(np.float32), level))
        t = e
    return out


def _dialogue(at: int, customer: np.ndarray, seller: np.ndarray, rng, pause_at: int = -1):
    """Customer / seller turns of 2 s with 0.5 s pauses (one pause of 2.5 s at `pause_at`);
    (segments, windows, end)."""
    segs, wins, t = [], [], at
    for k in range(6):
        voice, level = (customer, CUSTOMER_DB) if k % 2 == 0 else (seller, SELLER_DB)
        segs.append((t, t + 2_000))
        wins += _windows(voice, t, t + 2_000, level, rng)
        t += 2_000 + (2_500 if k == pause_at else 500)
    return segs, wins, t - 500


def _queue(rng, gaps: list[int], same: bool = False, pause_at: int = -1):
    seller = _voice(rng)
    first = _voice(rng)
    segs, wins, t = [], [], 1_000
    for n, gap in enumerate([0, *gaps]):
        customer = first if same or n == 0 else _voice(rng)
        s, w, t = _dialogue(t + gap, customer, seller, rng, pause_at if n == 0 else -1)
        segs += s
        wins += w
    return segs, wins


def test_a_new_customer_after_a_short_pause_starts_a_new_dialogue() -> None:
    segs, wins = _queue(np.random.default_rng(1), [3_000, 4_000])
    assert speakers.first_cut(segs, wins, SP) == 5  # after the first dialogue's 6 turns
    spans = timeline.plan(segs, [(-(2**62), 2**62)], P, cut=voices.cutter(wins, SP))
    assert [(s.start_ms, s.end_ms) for s in spans] == [
        (1_000, 15_500),
        (18_500, 33_000),
        (37_000, 51_500),
    ]


def test_the_same_customer_pausing_is_one_dialogue() -> None:
    segs, wins = _queue(np.random.default_rng(2), [], pause_at=3)  # a 2.5 s pause inside
    assert speakers.first_cut(segs, wins, SP) is None
    # Nor is a later customer cut off because the first one paused.
    segs, wins = _queue(np.random.default_rng(2), [3_000], pause_at=3)
    assert speakers.first_cut(segs, wins, SP) == 5


def test_without_voices_only_silence_separates_dialogues() -> None:
    segs, _ = _queue(np.random.default_rng(3), [3_000])
    assert speakers.first_cut(segs, [], SP) is None
    assert len(timeline.plan(segs, [(-(2**62), 2**62)], P, cut=voices.cutter([], SP))) == 1


def test_the_seller_is_the_louder_voice_or_a_known_seller() -> None:
    rng = np.random.default_rng(4)
    seller, customer = _voice(rng), _voice(rng)
    _, wins, _ = _dialogue(0, customer, seller, rng)
    assert float(speakers.dominant_voice(wins, SP) @ seller) > 0.9
    # The customer talks more and louder, but the point knows its seller's voice.
    loud = [
        speakers.Window(w.start_ms, w.end_ms, w.embedding, -20.0 if w.level_db < -25 else -26.0)
        for w in wins
    ]
    assert float(speakers.dominant_voice(loud, SP) @ customer) > 0.9
    assert float(speakers.dominant_voice(loud, SP, [seller]) @ seller) > 0.9


def _heard(voice: np.ndarray, noise: float, n: int, rng) -> speakers.Voices:
    rows = [
        speakers.unit(voice + noise * speakers.unit(rng.standard_normal(256))) for _ in range(n)
    ]
    return speakers.Voices(np.array(rows), np.full(n, CUSTOMER_DB), 1_000 * n)


def test_a_noisy_customer_is_told_from_a_like_voice_before_her() -> None:
    """Two alike voices (0.7 cosine), the second heard through reverb and overlap (her
    windows agree only ~0.4): the smaller own agreement took her for the first."""
    rng = np.random.default_rng(6)
    first = _voice(rng)
    second = speakers.unit(first + speakers.unit(rng.standard_normal(256)))
    clear, noisy = _heard(first, 0.5, 5, rng), _heard(second, 1.2, 8, rng)
    assert speakers._differ(clear, noisy, SP)
    assert not speakers._differ(clear, _heard(first, 1.2, 8, rng), SP)  # the same, noisier
    assert not speakers._differ(clear, _heard(first, 0.5, 5, rng), SP)


def test_a_stretch_with_nobody_at_the_microphone_is_background() -> None:
    rng = np.random.default_rng(5)
    segs, wins, _ = _dialogue(0, _voice(rng), _voice(rng), rng)
    span = timeline.Span(segs[0][0], segs[-1][1], 12_000, blip=False)
    assert voices.span_kind(span, wins, SP) == voices.SpanKind.DIALOGUE
    radio = [speakers.Window(w.start_ms, w.end_ms, w.embedding, -36.0) for w in wins]
    assert voices.span_kind(span, radio, SP) == voices.SpanKind.BACKGROUND
    assert voices.span_kind(span, [], SP) == voices.SpanKind.DIALOGUE  # nothing measured
    blip = timeline.Span(0, 900, 900, blip=True)
    assert voices.span_kind(blip, radio, SP) == voices.SpanKind.BLIP
    # Windows of a neighbouring stretch do not count.
    loud_elsewhere = [*radio, speakers.Window(span.end_ms + 10, span.end_ms + 900, None, -20.0)]
    assert voices.span_kind(span, loud_elsewhere, SP) == voices.SpanKind.BACKGROUND


def _incremental(chunks: dict[int, list], wins: list, order: list[int], chunk_ms: int) -> list:
    """Feed chunks in `order` as the assemble function does: segments and windows of the
    chunks processed so far; return the closed spans."""
    closed: list[timeline.Span] = []
    seen: list = []
    heard: list = []
    covered: list = [(-(2**62), 0)]
    for k in order:
        seen += chunks[k]
        heard += [w for w in wins if k * chunk_ms <= w.start_ms < (k + 1) * chunk_ms]
        heard.sort(key=lambda w: w.start_ms)
        covered.append((k * chunk_ms, (k + 1) * chunk_ms))
        done = timeline.merge((s.start_ms, s.end_ms) for s in closed)
        still_open = timeline.subtract(seen, done)
        cut = voices.cutter(heard, SP)
        closed += timeline.plan(still_open, timeline.merge(covered + done), P, cut=cut)
    return sorted(closed, key=lambda s: s.start_ms)


def test_queue_splits_are_the_same_for_any_arrival_order() -> None:
    rng = np.random.default_rng(5)
    segs, wins = _queue(rng, [3_000, 5_000, 4_000, 3_500, 20_000, 3_000, 6_000])
    chunk_ms = 20_000
    n = segs[-1][1] // chunk_ms + 2
    chunks: dict[int, list] = {k: [] for k in range(n)}
    for a, b in segs:  # VAD runs per chunk: speech is cut at chunk boundaries
        for k in range(a // chunk_ms, (b - 1) // chunk_ms + 1):
            lo, hi = max(a, k * chunk_ms), min(b, (k + 1) * chunk_ms)
            if hi > lo:
                chunks[k].append((lo, hi))
    in_order = _incremental(chunks, wins, list(range(n)), chunk_ms)
    assert len(in_order) == 8
    for seed in range(6):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        assert _incremental(chunks, wins, order, chunk_ms) == in_order


def test_roles_label_words_and_split_a_segment_where_the_speaker_changes() -> None:
    turns = [(0.0, 2.0, "customer", 0.9), (2.3, 4.0, "seller", 0.8)]
    words = [
        {"start": 0.1, "end": 0.6, "word": "Картой."},
        {"start": 2.4, "end": 3.0, "word": "Прикладывайте."},
        {"start": 3.1, "end": 3.5, "word": "Спасибо!"},
    ]
    segments = [
        {"start": 0.1, "end": 3.5, "text": "Картой. Прикладывайте. Спасибо!", "words": words}
    ]
    out = roles.label_segments(segments, turns)
    assert [(s["role"], s["text"], s["start"], s["end"]) for s in out] == [
        ("customer", "Картой.", 0.1, 0.6),
        ("seller", "Прикладывайте. Спасибо!", 2.4, 3.5),
    ]
    assert all(0.0 <= s["role_conf"] <= 1.0 for s in out)
    plain = [{"start": 2.5, "end": 3.9, "text": "Спасибо!"}]
    assert roles.label_segments(plain, turns)[0]["role"] == "seller"
    assert roles.label_segments(plain, []) == plain


def test_window_roles_follow_voice_and_loudness() -> None:
    rng = np.random.default_rng(6)
    seller, customer = _voice(rng), _voice(rng)
    _, wins, _ = _dialogue(0, customer, seller, rng)
    labelled = roles.turns(wins, speakers.dominant_voice(wins, SP))
    assert [r for _, _, r, _ in labelled] == ["customer", "seller"] * 3
    assert all(0.5 <= c <= 1.0 for *_, c in labelled)
