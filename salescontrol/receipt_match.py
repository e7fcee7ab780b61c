"""Receipts to dialogues, and offers to receipt lines: pure functions, no I/O.

Matching: a receipt printed at `at` and a dialogue of its register whose speech ends at
`end` are a candidate pair when -before <= at - end <= after. Pairs are taken best first,
each receipt and dialogue once: the smallest distance (a second before the end counting
BEFORE_WEIGHT: a receipt follows the sale it closes), then a dialogue that ended before
it, then the ids. The result depends only on the sets, not on the order of arrival;
pairs join items into components, each matched independently (`receipts.rematch`).

Check (`check`): an offer is `confirmed` by the line sharing most of its lemmas (ties to
the later line, where an added item is printed), an offer of "one more" naming no product
by a product bought twice, an accepted offer named on no line by the one line nobody
named in the dialogue; else `not_bought`; without a receipt `no_receipt`.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Lemmas are one word when equal, when the shorter (4+ letters) starts the longer
# (abbreviated: "шокол."), or when both have 5+ letters and differ only in the longer's
# last 3 letters or have difflib's ratio >= 0.85 (rapidfuzz's 2·matches/length, with no
# dependency for every function that reaches this): "круасан" is "круассан"; "вода" is
# not "водка", "молоко" not "молочный".
MIN_PREFIX_LEN, MIN_FUZZY_LEN, FUZZY_RATIO = 4, 5, 0.85
CONFIRMED, NOT_BOUGHT, NO_RECEIPT = "confirmed", "not_bought", "no_receipt"
BEFORE_WEIGHT = 2  # the goodbyes after a receipt are short; the customer before left
# at least SILENCE_GAP_SEC plus this whole sale earlier

Times = Mapping[Hashable, int]  # id -> epoch ms (receipt: printed; dialogue: speech end)
Pair = tuple[tuple[int, int, str, str], Hashable, Hashable]


@dataclass(frozen=True)
class Window:
    before_ms: int  # a receipt may be printed this long before its dialogue's end
    after_ms: int  # ... and this long after it

    @property
    def reach_ms(self) -> int:
        return max(self.before_ms, self.after_ms)


def pairs(receipts: Times, dialogues: Times, window: Window) -> list[Pair]:
    """Every candidate (cost, receipt, dialogue), best first."""
    ends = sorted((end, str(d), d) for d, end in dialogues.items())
    keys = [end for end, _, _ in ends]
    found = []
    for r, at in receipts.items():
        lo = bisect.bisect_left(keys, at - window.after_ms)
        hi = bisect.bisect_right(keys, at + window.before_ms)
        for end, name, d in ends[lo:hi]:
            cost = at - end if at >= end else (end - at) * BEFORE_WEIGHT
            found.append(((cost, int(end > at), name, str(r)), r, d))
    return sorted(found, key=lambda pair: pair[0])


def match(receipts: Times, dialogues: Times, window: Window) -> dict[Hashable, Hashable | None]:
    """Each receipt's dialogue (None: no dialogue), one to one, best pairs first."""
    linked: dict[Hashable, Hashable | None] = dict.fromkeys(receipts)
    taken: set[Hashable] = set()
    for _, r, d in pairs(receipts, dialogues, window):
        if linked[r] is None and d not in taken:
            linked[r] = d
            taken.add(d)
    return linked


def touched(
    receipts: Times, dialogues: Times, window: Window, lo: int, hi: int
) -> tuple[set[Hashable], set[Hashable]]:
    """Receipts and dialogues of the components with an item in [lo, hi]."""
    parent: dict[tuple[str, Hashable], tuple[str, Hashable]] = {}

    def root(node: tuple[str, Hashable]) -> tuple[str, Hashable]:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    for _, r, d in pairs(receipts, dialogues, window):
        parent[root(("r", r))] = root(("d", d))
    items = [(("r", r), at) for r, at in receipts.items()]
    items += [(("d", d), end) for d, end in dialogues.items()]
    roots = {root(node) for node, at in items if lo <= at <= hi}
    chosen = [node for node, _ in items if root(node) in roots]
    return {k for t, k in chosen if t == "r"}, {k for t, k in chosen if t == "d"}


def _same(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    if a == b or (len(short) >= MIN_PREFIX_LEN and long.startswith(short)):
        return True
    if len(short) < MIN_FUZZY_LEN:
        return False
    # Only the endings differ: pymorphy guesses the lemma of a word it does not know
    # from its ending ("капучино" -> "капучиный", the ASR's "капучина" -> "капучина").
    pairs = enumerate(zip(short, long, strict=False))
    stem = next((i for i, (x, y) in pairs if x != y), len(short))
    return stem >= len(long) - 3 or difflib.SequenceMatcher(None, a, b).ratio() >= FUZZY_RATIO


def _shared(lemmas: Sequence[str], line: Sequence[str]) -> int:
    return sum(any(_same(a, b) for b in line) for a in lemmas)


def _repeated(items: Sequence[Mapping[str, Any]], lemmas: Sequence[Sequence[str]]) -> int | None:
    """The last line of a product bought more than once: quantity 2 or more, or a line
    whose head word (a receipt's names start with it) an earlier line has."""
    heads = [line[0] if line else None for line in lemmas]
    found = None
    for i, item in enumerate(items):
        if item["quantity"] >= 2 or (heads[i] is not None and heads[i] in heads[:i]):
            found = i
    return found


def _found(product: Any, status: str, line: int | None = None, item: Any = None, **more: Any):
    name = item["name"] if item else None
    return {"product": product, "status": status, "line": line, "name": name} | {
        "amount": more.get("amount"),
        "by": more.get("by"),  # name | repeat | left over
    }


def check_offer(
    offer: Mapping[str, Any], terms: Mapping[str, Any], receipt: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One offer against a receipt ({items, item_lemmas}) or None: status, line, amount."""
    product = offer.get("product")
    if receipt is None:
        return _found(product, NO_RECEIPT)
    items, lemmas = receipt["items"], receipt["item_lemmas"]
    scores = [_shared(terms["lemmas"], line) for line in lemmas]
    best, by = max(range(len(items)), key=lambda i: (scores[i], i), default=None), "name"
    if best is None or not scores[best]:
        best, by = (_repeated(items, lemmas) if terms["more"] else None), "repeat"
    if best is None:
        return _found(product, NOT_BOUGHT)
    item = items[best]
    # "one more" bought as quantity 2 on one line: the upsell is one unit of it
    amount = item["price"] if terms["more"] and item["quantity"] >= 2 else item["sum"]
    return _found(product, CONFIRMED, best, item, amount=amount, by=by)


def check(
    offers: Sequence[Mapping[str, Any]],
    terms: Mapping[str, Any],
    receipt: Mapping[str, Any] | None,
) -> tuple[list[dict[str, Any]], bool]:
    """Every offer checked, and whether the receipt contradicts an accepted one.

    `terms`: {"offers": per offer {lemmas, more}, "said": the transcript's lemmas}. An
    accepted offer on no line (an ASR slip: "крово сон" for "круассан") takes the one
    line nobody named in the dialogue, if one alone: bought beyond what was asked for."""
    results = [check_offer(o, t, receipt) for o, t in zip(offers, terms["offers"], strict=True)]
    taken = {r["line"] for r in results}
    for i, offer in enumerate(offers):
        if receipt and offer.get("accepted") is True and results[i]["status"] == NOT_BOUGHT:
            unsaid = [
                n
                for n, line in enumerate(receipt["item_lemmas"])
                if n not in taken and not any(_same(a, b) for a in line for b in terms["said"])
            ]
            if len(unsaid) == 1:
                item = receipt["items"][unsaid[0]]
                product = offer.get("product")
                results[i] = _found(
                    product, CONFIRMED, unsaid[0], item, amount=item["sum"], by="left over"
                )
                taken.add(unsaid[0])
    contradicted = any(
        o.get("accepted") is True and r["status"] == NOT_BOUGHT
        for o, r in zip(offers, results, strict=True)
    )
    return results, contradicted
