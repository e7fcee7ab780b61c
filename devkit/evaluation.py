"""Scoring a pipeline run against ground truth: pure functions, no I/O but `load_truth`.

Truth (the format `python -m salescontrol eval` reads):
    {"duration": s, "dialogues": [{"start": s, "end": s, "text": "...",
     "upsell_attempted": bool, "accepted": bool | null, "kind": "sale" | "other",
     "turns": [{"start": s, "end": s, "role": "seller" | "customer", ...}]  (optional)}],
     "background": [{"start": s, "end": s, "role": "other", ...}]  (optional: radio, TV),
     "receipts": [{"at": s, "items": [{"name", "price", "quantity", "sum"}],
                   "total": kopecks, "dialogue": index in "dialogues" | null}]}
Times are seconds from the start of the recording, for truth and found dialogues alike;
"receipts" is optional (`eval` posts them through the receipts API as they are printed).

- Segmentation: a found dialogue matches a true one when their intersection over union
  is at least 0.5; matching is one-to-one, best pairs first. Precision = matched / found,
  recall = matched / true.
- CER: mean character error rate over matched pairs, after `normalise` (a matched
  dialogue with no transcript counts as 1.0).
- Upsell: end to end. A true positive is a true upsell whose matched found dialogue was
  analysed as attempted; a found "attempted" with no true upsell (unmatched, or matched
  to one without) is a false positive; a true upsell not found or not detected is a miss.
- Receipts: `receipts_matched_right` is the share of true receipts linked to the found
  dialogue matched to the true one they name, or left unlinked when they name none;
  `upsell_confirmed_right` the share of true accepted upsells whose found dialogue has
  their own receipt and an offer confirmed on it.
- Roles (when the truth has turns): of the true seller and customer speech that one
  voice says alone and that a found transcript segment with a role covers, the share
  whose role is right (role_accuracy); role_coverage is that covered share of all of it.
- Background: found dialogues made from background speech alone (overlapping no true
  dialogue but some true background) are counted (dialogues_from_background).
A ratio with nothing to count (no found dialogues, no true upsells) is None, not 0 or 1.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
from num2words import num2words

from salescontrol.errors import BadInput

MIN_IOU = 0.5
KINDS = ("sale", "other")
ROLES = ("seller", "customer", "other")
ROLE_STEP_S = 0.02  # role accuracy is counted on this grid


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    role: str
    text: str = ""  # what was said (found turns: the transcript segment's text)


@dataclass(frozen=True)
class TrueDialogue:
    start: float
    end: float
    text: str
    upsell_attempted: bool
    accepted: bool | None
    kind: str
    turns: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class TrueReceipt:
    at: float  # printed, seconds from the start of the recording
    items: tuple[dict[str, Any], ...]  # {name, price, quantity, sum}, kopecks
    total: int
    dialogue: int | None  # index into Truth.dialogues; None: no dialogue of its own


@dataclass(frozen=True)
class Truth:
    duration: float
    dialogues: tuple[TrueDialogue, ...]
    receipts: tuple[TrueReceipt, ...] = ()
    background: tuple[Turn, ...] = ()


@dataclass(frozen=True)
class FoundDialogue:
    """A dialogue the pipeline produced, on the recording's time line (seconds)."""

    start: float
    end: float
    text: str | None = None  # None: not transcribed
    attempted: bool | None = None  # None: not analysed (or skipped)
    accepted: bool | None = None
    latency_s: float | None = None  # last chunk uploaded -> analysis stored
    receipt: int | None = None  # index of the true receipt linked to it
    confirmed: bool = False  # an offer confirmed on that receipt
    roles: tuple[Turn, ...] = ()  # transcript segments with a role, on the recording's time


def _turns(items: Any, where: str, duration: float) -> tuple[Turn, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise BadInput(f"truth.{where}: must be a list", where)
    out = []
    for i, t in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(t, dict) or t.get("role") not in ROLES:
            raise BadInput(f"truth.{at}.role: must be one of {', '.join(ROLES)}", "role")
        start, end = t.get("start"), t.get("end")
        if not (_number(start) and _number(end) and 0 <= start < end <= duration):
            raise BadInput(f"truth.{at}: needs 0 <= start < end <= duration", at)
        out.append(Turn(float(start), float(end), t["role"]))
    return tuple(out)


def parse_truth(data: Any) -> Truth:
    """Validate a truth document; BadInput names the first wrong field."""
    if not isinstance(data, dict):
        raise BadInput("truth: must be a JSON object", "truth")
    duration = data.get("duration")
    if not _number(duration) or duration <= 0:
        raise BadInput("truth.duration: must be a positive number of seconds", "duration")
    items = data.get("dialogues")
    if not isinstance(items, list):
        raise BadInput("truth.dialogues: must be a list", "dialogues")
    dialogues: list[tuple[TrueDialogue, int]] = []
    for i, item in enumerate(items):
        where = f"dialogues[{i}]"
        if not isinstance(item, dict):
            raise BadInput(f"truth.{where}: must be an object", where)
        start, end = item.get("start"), item.get("end")
        if not (_number(start) and _number(end) and 0 <= start < end <= duration):
            raise BadInput(f"truth.{where}: needs 0 <= start < end <= duration", where)
        for key, kinds in (
            ("text", (str,)),
            ("upsell_attempted", (bool,)),
            ("accepted", (bool, type(None))),
        ):
            if not isinstance(item.get(key, ...), kinds):
                raise BadInput(f"truth.{where}.{key}: missing or of the wrong type", key)
        if item.get("kind") not in KINDS:
            raise BadInput(f"truth.{where}.kind: must be one of {', '.join(KINDS)}", "kind")
        dialogues.append(
            (
                TrueDialogue(
                    float(start),
                    float(end),
                    item["text"],
                    item["upsell_attempted"],
                    item["accepted"],
                    item["kind"],
                    _turns(item.get("turns"), f"{where}.turns", duration),
                ),
                i,
            )
        )
    dialogues.sort(key=lambda pair: pair[0].start)
    position = {given: n for n, (_, given) in enumerate(dialogues)}
    receipts = _receipts(data.get("receipts", []), float(duration), position)
    background = _turns(data.get("background"), "background", duration)
    return Truth(float(duration), tuple(d for d, _ in dialogues), receipts, background)


def _receipts(items: Any, duration: float, position: dict[int, int]) -> tuple[TrueReceipt, ...]:
    """The truth's receipts, their dialogues renumbered to the sorted dialogues."""
    if not isinstance(items, list):
        raise BadInput("truth.receipts: must be a list", "receipts")
    found = []
    for i, item in enumerate(items):
        where = f"receipts[{i}]"
        if not isinstance(item, dict) or not _number(item.get("at")):
            raise BadInput(f"truth.{where}: must be an object with a number `at`", where)
        lines, total = item.get("items"), item.get("total")
        if not (isinstance(lines, list) and lines and all(isinstance(x, dict) for x in lines)):
            raise BadInput(f"truth.{where}.items: must be a list of items", "items")
        if not isinstance(total, int) or total != sum(x.get("sum", 0) for x in lines):
            raise BadInput(f"truth.{where}.total: must be the sum of the items' sums", "total")
        dialogue = item.get("dialogue")
        if dialogue is not None and dialogue not in position:
            raise BadInput(f"truth.{where}.dialogue: not an index of dialogues", "dialogue")
        at = float(item["at"])
        if not 0 <= at <= duration:
            raise BadInput(f"truth.{where}.at: must be within the recording", "at")
        mapped = None if dialogue is None else position[dialogue]
        found.append(TrueReceipt(at, tuple(lines), total, mapped))
    return tuple(found)


def load_truth(path: Path) -> Truth:
    """Read and validate a truth JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read truth {path}: {exc}", "truth") from None
    return parse_truth(data)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def normalise(text: str) -> str:
    """Lower case, ё as е, numbers as Russian words, no punctuation, single spaces."""
    text = text.lower().replace("ё", "е").replace("%", " процентов")
    text = re.sub(r"\d+", lambda m: f" {num2words(int(m.group()), lang='ru')} ", text)
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of `hypothesis` against `reference`, both normalised."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.cer(ref, hyp))


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two time intervals."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def match(
    truth: tuple[TrueDialogue, ...] | list[TrueDialogue],
    found: list[FoundDialogue],
    min_iou: float = MIN_IOU,
) -> list[tuple[int, int]]:
    """One-to-one (truth index, found index) pairs with IoU >= min_iou, best pairs first."""
    candidates = sorted(
        (
            (iou((t.start, t.end), (f.start, f.end)), ti, fi)
            for ti, t in enumerate(truth)
            for fi, f in enumerate(found)
        ),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    used_t: set[int] = set()
    used_f: set[int] = set()
    pairs = []
    for score, ti, fi in candidates:
        if score < min_iou:
            break
        if ti in used_t or fi in used_f:
            continue
        used_t.add(ti)
        used_f.add(fi)
        pairs.append((ti, fi))
    return sorted(pairs)


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def audio_minutes_per_minute(audio_sec: float, wall_sec: float) -> float | None:
    """Minutes of recording processed per minute of wall-clock time."""
    return audio_sec / wall_sec if wall_sec > 0 else None


def _grid(turns: list[Turn], duration: float, roles: tuple[str, ...]) -> np.ndarray:
    """Per ROLE_STEP_S: index+1 of the one role of `roles` said there, 0 for none, -1 for
    more than one (overlapping talk)."""
    n = int(duration / ROLE_STEP_S) + 1
    grid = np.zeros(n, dtype=np.int8)
    for t in turns:
        if t.role not in roles:
            continue
        a, b = int(t.start / ROLE_STEP_S), int(t.end / ROLE_STEP_S)
        mine = roles.index(t.role) + 1
        part = grid[a:b]
        part[(part != 0) & (part != mine)] = -1
        part[part == 0] = mine
    return grid


def role_figures(truth: Truth, found: list[FoundDialogue]) -> dict[str, Any]:
    """role_accuracy and role_coverage (None when the truth has no turns)."""
    said = [t for d in truth.dialogues for t in d.turns]
    if not said:
        return {"role_accuracy": None, "role_coverage": None}
    roles = ("seller", "customer")
    true = _grid(said, truth.duration, roles)
    labelled = _grid([r for f in found for r in f.roles], truth.duration, roles)
    alone = true > 0
    covered = alone & (labelled != 0)
    right = covered & (labelled == true)
    return {
        "role_accuracy": ratio(int(right.sum()), int(covered.sum())),
        "role_coverage": ratio(int(covered.sum()), int(alone.sum())),
    }


def from_background(truth: Truth, found: list[FoundDialogue]) -> int:
    """Found dialogues that overlap no true dialogue but some true background speech."""

    def overlaps(f: FoundDialogue, a: float, b: float) -> bool:
        return min(f.end, b) > max(f.start, a)

    return sum(
        1
        for f in found
        if not any(overlaps(f, d.start, d.end) for d in truth.dialogues)
        and any(overlaps(f, t.start, t.end) for t in truth.background)
    )


def score(truth: Truth, found: list[FoundDialogue]) -> dict[str, Any]:
    """Segmentation, CER and upsell figures of `found` against `truth`."""
    pairs = match(truth.dialogues, found)
    # a matched dialogue without a transcript counts as all wrong, not as absent
    cers = [cer(truth.dialogues[ti].text, found[fi].text or "") for ti, fi in pairs]
    true_upsells = sum(t.upsell_attempted for t in truth.dialogues)
    tp = sum(1 for ti, fi in pairs if truth.dialogues[ti].upsell_attempted and found[fi].attempted)
    detected = sum(1 for f in found if f.attempted)
    accepted_right = sum(
        1
        for ti, fi in pairs
        if truth.dialogues[ti].upsell_attempted
        and found[fi].attempted
        and found[fi].accepted == truth.dialogues[ti].accepted
    )
    seg_p, seg_r = ratio(len(pairs), len(found)), ratio(len(pairs), len(truth.dialogues))
    up_p, up_r = ratio(tp, detected), ratio(tp, true_upsells)
    latencies = [f.latency_s for f in found if f.latency_s is not None]
    return {
        "dialogues_true": len(truth.dialogues),
        "dialogues_found": len(found),
        "dialogues_matched": len(pairs),
        "segmentation_precision": seg_p,
        "segmentation_recall": seg_r,
        "segmentation_f1": f1(seg_p, seg_r),
        "cer": sum(cers) / len(cers) if cers else None,
        "upsells_true": true_upsells,
        "upsells_found": detected,
        "upsells_detected": tp,
        "upsell_precision": up_p,
        "upsell_recall": up_r,
        "upsell_f1": f1(up_p, up_r),
        "accepted_accuracy": ratio(accepted_right, tp),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        **role_figures(truth, found),
        "dialogues_from_background": from_background(truth, found),
        **score_receipts(truth, found, pairs),
    }


def score_receipts(
    truth: Truth, found: list[FoundDialogue], pairs: list[tuple[int, int]]
) -> dict[str, Any]:
    """How right the receipts were linked, and the accepted upsells confirmed on them."""
    true_of = {fi: ti for ti, fi in pairs}
    # receipt -> the true dialogue of the found one it went to ("spurious": matched none)
    went = {f.receipt: true_of.get(fi, "spurious") for fi, f in enumerate(found)}
    right = sum(went.get(i) == r.dialogue for i, r in enumerate(truth.receipts))
    receipt_of = {r.dialogue: i for i, r in enumerate(truth.receipts) if r.dialogue is not None}
    found_of = dict(pairs)
    accepted = [i for i, t in enumerate(truth.dialogues) if t.upsell_attempted and t.accepted]
    confirmed = sum(
        1
        for ti in accepted
        if ti in found_of
        and ti in receipt_of
        and found[found_of[ti]].receipt == receipt_of[ti]
        and found[found_of[ti]].confirmed
    )
    return {
        "receipts_true": len(truth.receipts),
        "receipts_matched_right": ratio(right, len(truth.receipts)),
        "upsell_confirmed_right": ratio(confirmed, len(accepted)) if truth.receipts else None,
    }
