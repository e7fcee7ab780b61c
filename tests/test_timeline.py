"""Dialogue assembly rules on one device timeline (pure functions, no I/O)."""

from __future__ import annotations

import random

from salescontrol import timeline
from salescontrol.timeline import Params

P = Params(gap_ms=12_000, max_ms=120_000, min_speech_ms=1_500)
ALL = [(-(2**62), 2**62)]


def test_segments_closer_than_the_gap_join_and_farther_ones_split() -> None:
    segs = [(0, 3_000), (5_000, 9_000), (20_000, 24_000), (40_000, 45_000)]
    spans = timeline.plan(segs, ALL, P)
    assert [(s.start_ms, s.end_ms) for s in spans] == [(0, 24_000), (40_000, 45_000)]
    assert spans[0].speech_ms == 11_000


def test_a_group_stays_open_until_the_silence_after_it_is_covered() -> None:
    segs = [(10_000, 20_000)]
    assert timeline.plan(segs, [(0, 25_000)], P) == []
    assert len(timeline.plan(segs, [(-5_000, 32_000)], P)) == 1
    # A hole in the silence before or after (a chunk not processed yet) keeps it open.
    assert timeline.plan(segs, [(-5_000, 21_000), (22_000, 40_000)], P) == []
    assert timeline.plan(segs, [(0, 40_000)], P) == []
    assert len(timeline.plan(segs, [(0, 25_000)], P, force=True)) == 1


def test_short_groups_are_blips() -> None:
    spans = timeline.plan([(0, 1_000), (50_000, 55_000)], ALL, P)
    assert [s.blip for s in spans] == [True, False]


def test_long_talk_is_split_at_the_longest_pause_near_the_limit() -> None:
    # Speech 4 s on, 1 s off, with 3 s pauses after segments 5 (early) and 19 (near 120 s).
    segs, t = [], 0
    while t < 300_000:
        segs.append((t, t + 4_000))
        t += 4_000 + (3_000 if len(segs) - 1 in (5, 19, 40) else 1_000)
    near_limit = segs[19][1]
    assert P.max_ms // 2 <= near_limit <= P.max_ms
    spans = timeline.plan(segs, ALL, P)
    assert all(s.end_ms - s.start_ms <= P.max_ms for s in spans)
    assert spans[0].end_ms == near_limit
    assert spans[0].end_ms < spans[1].start_ms
    assert sum(s.speech_ms for s in spans) == sum(b - a for a, b in segs)


def test_continuous_speech_is_cut_hard_at_the_limit() -> None:
    spans = timeline.plan([(0, 250_000)], ALL, P)
    assert [(s.start_ms, s.end_ms) for s in spans] == [
        (0, 120_000),
        (120_000, 240_000),
        (240_000, 250_000),
    ]


def _incremental(segments_by_chunk: dict[int, list], order: list[int], chunk_ms: int) -> list:
    """Feed chunks in `order` the way the assemble function does; return closed spans."""
    closed: list[timeline.Span] = []
    seen: list = []
    covered: list = [(-(2**62), 0)]
    for k in order:
        seen += segments_by_chunk[k]
        covered.append((k * chunk_ms, (k + 1) * chunk_ms))
        spans_done = timeline.merge((s.start_ms, s.end_ms) for s in closed)
        open_segments = timeline.subtract(seen, spans_done)
        closed += timeline.plan(open_segments, timeline.merge(covered + spans_done), P)
    return sorted(closed, key=lambda s: s.start_ms)


def test_any_arrival_order_gives_the_same_dialogues() -> None:
    rng = random.Random(4)
    chunk_ms, n = 60_000, 30
    segs, t = [], 5_000
    while t < chunk_ms * n - 30_000:
        for _ in range(rng.randint(1, 40)):
            d = rng.randint(300, 5_000)
            segs.append((t, min(t + d, chunk_ms * n)))
            t += d + rng.randint(100, 3_000)
        t += rng.randint(12_000, 50_000)
    by_chunk: dict[int, list] = {k: [] for k in range(n)}
    for a, b in segs:  # VAD runs per chunk: speech is cut at chunk boundaries
        for k in range(a // chunk_ms, (b - 1) // chunk_ms + 1):
            lo, hi = max(a, k * chunk_ms), min(b, (k + 1) * chunk_ms)
            if hi > lo:
                by_chunk[k].append((lo, hi))
    in_order = _incremental(by_chunk, list(range(n)), chunk_ms)
    assert len(in_order) > 10
    for seed in range(5):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        assert _incremental(by_chunk, order, chunk_ms) == in_order


def test_covers_and_subtract() -> None:
    assert timeline.covers([(0, 10), (10, 20)], 5, 15) is True
    assert timeline.covers([(0, 10), (11, 20)], 5, 15) is False
    assert timeline.subtract([(0, 10)], [(3, 5)]) == [(0, 3), (5, 10)]


def test_forcing_closes_only_groups_ending_by_the_given_time() -> None:
    segs = [(10_000, 20_000), (60_000, 70_000)]
    nothing_known = [(-(2**62), 0)]
    spans = timeline.plan(segs, nothing_known, P, force_before_ms=30_000)
    assert [(s.start_ms, s.end_ms, s.forced) for s in spans] == [(10_000, 20_000, True)]
    evidence = timeline.plan(segs, [(-(2**62), 35_000)], P, force_before_ms=30_000)
    assert [s.forced for s in evidence] == [False]
