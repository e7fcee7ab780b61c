"""Dialogue assembly on one device's timeline, as pure functions (no I/O).

Times are epoch milliseconds. Input: the device's speech segments not yet part of a
closed span, and what part of the timeline is known (covered by processed chunks).
Output: spans that can be closed now, each a dialogue or a dropped blip.

Rules (design.md "Dialogue assembly"):
- segments closer than `gap_ms` join one group;
- a group longer than `max_ms` is split at the longest pause in the second half of the
  first `max_ms` (continuous speech is cut hard at the limit);
- a group (or split piece) closes only on evidence: the `gap_ms` before its start and
  after its end (for a piece: up to start + `max_ms`) are covered, so no chunk still to
  come can change it; the sweeper forces groups of devices that went quiet, and groups
  that waited too long for a chunk that never came;
- within a group, `cut` (given the group's segments up to `max_ms` from its start) may
  end the first dialogue early: where the customer changes in a queue
  (`salescontrol.speakers`); it reads only that stretch, closed on the same evidence;
- a closed group with less than `min_speech_ms` of speech is a blip: dropped, counted.
Because a span depends only on audio inside its covered window, chunks arriving late or
in any order give the same spans as chunks arriving in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

Interval = tuple[int, int]
# Given a group's segments from its start up to `max_ms`: the index of the segment that
# ends its first dialogue, or None.
Cut = Callable[[list[Interval]], "int | None"]


@dataclass(frozen=True)
class Params:
    gap_ms: int
    max_ms: int
    min_speech_ms: int


@dataclass(frozen=True)
class Span:
    start_ms: int
    end_ms: int
    speech_ms: int
    blip: bool
    forced: bool = False  # closed by the sweeper, without evidence of the silence around it


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals as sorted, disjoint intervals (touching ones joined)."""
    out: list[list[int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def covers(covered: list[Interval], a: int, b: int) -> bool:
    """True when [a, b] lies inside the union `covered` (sorted, disjoint)."""
    pos = a
    for start, end in covered:
        if end <= pos:
            continue
        if start > pos:
            return False
        pos = end
        if pos >= b:
            return True
    return pos >= b


def subtract(segments: Iterable[Interval], spans: list[Interval]) -> list[Interval]:
    """The parts of `segments` outside `spans` (sorted, disjoint), sorted."""
    out: list[Interval] = []
    for a, b in sorted(segments):
        pieces = [(a, b)]
        for s, e in spans:
            if e <= a or s >= b:
                continue
            pieces = [p for x, y in pieces for p in ((x, min(y, s)), (max(x, e), y)) if p[1] > p[0]]
        out += pieces
    return sorted(out)


def groups(segments: list[Interval], gap_ms: int) -> list[list[Interval]]:
    """Segments joined while the silence between them is shorter than `gap_ms`."""
    out: list[list[Interval]] = []
    end = None
    for seg in sorted(segments):
        if end is not None and seg[0] - end < gap_ms:
            out[-1].append(seg)
            end = max(end, seg[1])
        else:
            out.append([seg])
            end = seg[1]
    return out


def split(group: list[Interval], max_ms: int) -> tuple[list[Interval], list[Interval]]:
    """Cut a group longer than `max_ms` into a first piece ≤ max_ms and the rest."""
    start = group[0][0]
    limit = start + max_ms
    # Pause k lies between segment k and k+1; the piece would end at group[k][1].
    pauses = [(group[k + 1][0] - group[k][1], k) for k in range(len(group) - 1)]
    fitting = [p for p in pauses if group[p[1]][1] <= limit]
    near = [p for p in fitting if group[p[1]][1] >= start + max_ms // 2]
    candidates = near or fitting
    if candidates:
        _, k = max(candidates)  # longest pause, the later one on a tie
        return group[: k + 1], group[k + 1 :]
    first_start, first_end = group[0]
    return [(first_start, limit)], [(limit, first_end), *group[1:]]


def _span(piece: list[Interval], params: Params, forced: bool) -> Span:
    speech = sum(b - a for a, b in piece)
    end = max(b for _, b in piece)
    return Span(piece[0][0], end, speech, speech < params.min_speech_ms, forced)


def plan(
    segments: list[Interval],
    covered: list[Interval],
    params: Params,
    force: bool = False,
    force_before_ms: int | None = None,
    cut: Cut | None = None,
) -> list[Span]:
    """Spans that can be closed now, in time order; `force` closes every group without
    evidence, `force_before_ms` those ending by then; `cut` ends dialogues early."""
    known = merge(covered)
    out: list[Span] = []
    for group in groups(segments, params.gap_ms):
        forced = force or (
            force_before_ms is not None and max(b for _, b in group) <= force_before_ms
        )
        while group:
            start = group[0][0]
            end = max(b for _, b in group)
            if cut is not None:
                # The cut reads the group up to max_ms from its start: it must all be known.
                reach = min(start + params.max_ms, end + params.gap_ms)
                evidence = covers(known, start - params.gap_ms, reach)
                horizon = [seg for seg in group if seg[0] < start + params.max_ms]
                k = cut(horizon) if (evidence or forced) and len(horizon) > 1 else None
                if k is not None and k + 1 < len(group):
                    out.append(_span(group[: k + 1], params, forced=not evidence))
                    group = group[k + 1 :]
                    continue
            if end - start > params.max_ms:
                evidence = covers(known, start - params.gap_ms, start + params.max_ms)
                if not (evidence or forced):
                    break
                piece, group = split(group, params.max_ms)
                out.append(_span(piece, params, forced=not evidence))
                continue
            evidence = covers(known, start - params.gap_ms, end + params.gap_ms)
            if evidence or forced:
                out.append(_span(group, params, forced=not evidence))
            break
    return out
