"""The labelled upsell corpus: a seeded generator, the hand-written set, and one loader.

`python -m devkit.upsell_corpus` (re)writes tests/test_data/upsell/generated.jsonl from
the pools in devkit/upsell_pools.py; tests/test_data/upsell/handwritten.yaml is written
by hand. Every record: id, split (dev | holdout | test), source (generated |
handwritten), shop, label (accepted | refused | unclear | none | not_sale), tags, turns
[{role: seller | customer | other, text}], text (the turns as Whisper writes them: one
run of text with no speaker labels).

How the generated part stays honest: every pool is cut by position into a dev part and
a test part (`part`), and the test split is drawn only from the test parts of the offer
templates, add-ons, answers, service questions and staff talk, so no phrasing in it is
ever seen in dev or holdout. The test split (both sources) is frozen: tests hold its
content hash (tests/test_upsell_corpus.py), and no rule, weight or prompt is tuned on it.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from num2words import num2words

from devkit import upsell_pools as P
from devkit.paths import REPO_ROOT

CORPUS_DIR = REPO_ROOT / "tests" / "test_data" / "upsell"
GENERATED = CORPUS_DIR / "generated.jsonl"
HANDWRITTEN = CORPUS_DIR / "handwritten.yaml"
LEGACY = REPO_ROOT / "tests" / "test_data" / "upsell_labelled.yaml"
SPLITS = ("dev", "holdout", "test")
COUNTS = {"dev": 160, "holdout": 60, "test": 110}
SEEDS = {"dev": 2301, "holdout": 2302, "test": 2303}
LABELS = ("accepted", "refused", "unclear", "none", "not_sale")
ATTEMPTED = ("accepted", "refused", "unclear")
T = TypeVar("T")


def part(pool: Sequence[T], split: str) -> list[T]:
    """The share of a pool a split may use: every third entry is the test split's alone."""
    test = split == "test"
    chosen = [x for i, x in enumerate(pool) if (i % 3 == 2) == test]
    return chosen or list(pool)


@dataclass
class _Turn:
    role: str
    text: str
    offer: int | None = None  # the offer this turn makes
    answers: int | None = None  # the offer this turn answers
    accepted: bool | None = None


@dataclass
class _Dialogue:
    shop: str
    turns: list[_Turn] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    offers: int = 0

    def say(self, role: str, text: str, **meta: Any) -> None:
        self.turns.append(_Turn(role, text, **meta))


class _Writer:
    """Draws one split's dialogues from that split's part of every pool."""

    def __init__(self, split: str) -> None:
        self.split = split
        self.rng = random.Random(SEEDS[split])

    def pick(self, pool: Sequence[T]) -> T:
        return self.rng.choice(part(pool, self.split))

    def price(self, shop: P.Shop) -> str:
        lo, hi = shop.price
        value = self.rng.randint(lo, hi)
        value = value - value % 10 if value > 100 else value
        return num2words(value, lang="ru") if self.rng.random() < 0.35 else str(value)

    def fill(self, template: str, item: P.Item, addon: P.Addon | None, shop: P.Shop) -> str:
        slots = {
            "i_nom": item.nom,
            "i_acc": item.acc,
            "k_it": P.IT_DAT[item.gender],
            "p": self.price(shop) if "{p}" in template else "",
        }
        if addon is not None:
            slots |= {
                "a_nom": addon.nom,
                "a_acc": addon.acc,
                "need": P.NEED[addon.gender],
                "ben": addon.benefit,
            }
        return template.format(**slots)

    # -- one dialogue -------------------------------------------------------------

    def sale(self, kind: str) -> _Dialogue:
        rng = self.rng
        name = rng.choice(sorted(P.SHOPS))
        shop = P.SHOPS[name]
        d = _Dialogue(name)
        item = rng.choice(shop.items)
        addons = [a for a in part(shop.addons, self.split) if a.nom != item.nom]
        if rng.random() < 0.6:
            d.say("seller", self.pick(P.GREET_SELLER))
            if rng.random() < 0.6:
                d.say("customer", self.pick(P.GREET_CUSTOMER))
        d.say("customer", self.fill(self.pick(P.REQUESTS), item, None, shop))
        d.say("seller", self.pick(P.ACKS))
        if rng.random() < 0.25:
            question, answer = self.pick(P.CLARIFY)
            d.say("seller", question)
            d.say("customer", answer)
            d.tags.add("clarify")
        if rng.random() < 0.2:
            self.customer_asks(d, item, rng.choice(addons), shop)
        if kind in ("accepted", "refused"):
            self.offers(d, kind, item, addons, shop)
        else:
            self.no_offer(d, shop)
        if rng.random() < 0.4:
            d.say("seller", self.pick(P.SERVICE))
            d.say("customer", self.pick(P.SERVICE_ANSWERS))
            d.tags.add("service")
        d.say("seller", self.fill(self.pick(P.PRICES), item, None, shop))
        if rng.random() < 0.5:
            d.say("customer", self.pick(P.PAY))
        if rng.random() < 0.6:
            d.say("seller", self.pick(P.BYE_SELLER))
            if rng.random() < 0.5:
                d.say("customer", self.pick(P.BYE_CUSTOMER))
        return d

    def customer_asks(self, d: _Dialogue, item: P.Item, addon: P.Addon, shop: P.Shop) -> None:
        d.say("customer", self.fill(self.pick(P.CUSTOMER_ASKS), item, addon, shop))
        d.say("seller", self.fill(self.pick(P.CUSTOMER_ASK_REPLIES), item, addon, shop))
        if self.rng.random() < 0.5:
            d.say("customer", self.pick(("давайте", "хорошо", "ага", "беру")))
        d.tags.add("customer_initiated")

    def offers(
        self, d: _Dialogue, kind: str, item: P.Item, addons: list[P.Addon], shop: P.Shop
    ) -> None:
        rng = self.rng
        count = 2 if rng.random() < 0.2 else 1
        accepted_at = rng.randrange(count) if kind == "accepted" else -1
        for n in range(count):
            roll = rng.random()
            if roll < 0.2:
                text = self.fill(self.pick(shop.upsize), item, None, shop)
                d.tags.add("upsize")
            else:
                pool = P.OFFERS_CUE if roll < 0.55 else P.OFFERS_NOCUE
                d.tags.add("cue" if pool is P.OFFERS_CUE else "nocue")
                text = self.fill(self.pick(pool), item, rng.choice(addons), shop)
            offer = d.offers
            d.offers += 1
            d.say("seller", text, offer=offer)
            yes = n == accepted_at
            style = rng.random()
            if yes:
                pool = P.ACCEPT_INDIRECT if style < 0.25 else P.ACCEPT
                d.tags.add("indirect" if style < 0.25 else "direct")
            else:
                pool = (
                    P.REFUSE_IRONIC
                    if style < 0.15
                    else P.REFUSE_INDIRECT
                    if style < 0.4
                    else P.REFUSE
                )
                d.tags.add("ironic" if style < 0.15 else "indirect" if style < 0.4 else "direct")
            d.say("customer", self.pick(pool), answers=offer, accepted=yes)
            if rng.random() < 0.6:
                d.say("seller", self.pick(P.AFTER_ACCEPT if yes else P.AFTER_REFUSE))

    def no_offer(self, d: _Dialogue, shop: P.Shop) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            question = self.pick(shop.service + P.SERVICE)
            d.say("seller", question)
            d.say("customer", self.pick(P.SERVICE_ANSWERS))
            d.tags.add("service")
        elif roll < 0.7:
            question, answer = self.pick(P.ANYTHING_ELSE)
            d.say("seller", question)
            d.say("customer", answer)
            d.tags.add("anything_else")
        elif roll < 0.85:
            question, answer = self.pick(P.SUBSTITUTE)
            d.say("seller", question)
            d.say("customer", answer)
            d.tags.add("substitution")
        else:
            d.tags.add("plain")

    def staff(self) -> _Dialogue:
        d = _Dialogue(self.rng.choice(sorted(P.SHOPS)))
        for role, text in self.pick(P.STAFF):
            d.say(role, text)
        d.tags.add("staff")
        return d

    def cut(self, d: _Dialogue) -> None:
        """Cut the dialogue as segmentation does: its start or its end is missing."""
        if len(d.turns) < 5:
            return
        keep = self.rng.randint(2, min(3, len(d.turns) - 3))
        if self.rng.random() < 0.5:
            d.turns = d.turns[keep:]
            d.tags.add("partial_start")
        else:
            d.turns = d.turns[:-keep]
            d.tags.add("partial_end")

    def dialogue(self) -> tuple[_Dialogue, str]:
        roll = self.rng.random()
        if roll < 0.1:
            return self.staff(), "not_sale"
        kind = "accepted" if roll < 0.4 else "refused" if roll < 0.65 else "none"
        d = self.sale(kind)
        if self.rng.random() < 0.18:
            self.cut(d)
        return d, label(d)

    # -- how Whisper writes it ------------------------------------------------------

    def render(self, d: _Dialogue) -> list[dict[str, str]]:
        style = self.rng.choice(("whisper", "whisper", "flat", "mixed"))
        return [{"role": t.role, "text": self.noisy(t.text, style)} for t in d.turns]

    def noisy(self, text: str, style: str) -> str:
        rng = self.rng
        words = []
        for word in text.split():
            bare = word.strip(",.?!")
            if bare in P.SPOKEN and rng.random() < 0.5:
                word = word.replace(bare, rng.choice(P.SPOKEN[bare]))
            elif len(bare) > 4 and rng.random() < 0.04 and bare not in ("нет", "не", "да"):
                word = word.replace(bare, self.slip(bare))
            words.append(word)
        if rng.random() < 0.12:
            words.insert(0, rng.choice(P.FILLERS))
        text = " ".join(words)
        if rng.random() < 0.7:
            text = text.replace("ё", "е")
        question = text.endswith("?")
        if style == "flat":
            return re.sub(r"[,.?!]", "", text)
        if style == "mixed":
            text = re.sub(r"[,]", "", text) if rng.random() < 0.5 else text
            return text.rstrip("?") + rng.choice(("", ".", "?" if question else ".", "..."))
        text = text[:1].upper() + text[1:]
        return text if text[-1] in ".?!" else text + ("?" if question else ".")

    def slip(self, word: str) -> str:
        """One ASR-like slip in a word: a letter dropped, doubled or a vowel confused."""
        rng = self.rng
        i = rng.randrange(1, len(word) - 1)
        kind = rng.random()
        if kind < 0.35:
            return word[:i] + word[i + 1 :]
        if kind < 0.55:
            return word[:i] + word[i] + word[i:]
        swaps = {"о": "а", "а": "о", "е": "и", "и": "е", "я": "е"}
        vowels = [j for j, c in enumerate(word) if c in swaps]
        if not vowels:
            return word
        j = rng.choice(vowels)
        return word[:j] + swaps[word[j]] + word[j + 1 :]


def label(d: _Dialogue) -> str:
    """The truth of what is left of a dialogue after any cut."""
    if "staff" in d.tags:
        return "not_sale"
    offered = {t.offer for t in d.turns if t.offer is not None}
    if not offered:
        return "none"
    answers = {t.answers: t.accepted for t in d.turns if t.answers in offered}
    if any(answers.values()):
        return "accepted"
    if len(answers) == len(offered):
        return "refused"
    return "unclear"


def flat_text(turns: list[dict[str, str]]) -> str:
    """The turns as one Whisper text: no speaker labels, segments joined by spaces."""
    return " ".join(t["text"] for t in turns if t["text"])


def generate() -> list[dict[str, Any]]:
    """Every generated record, all splits, deterministic."""
    records = []
    for split in SPLITS:
        writer = _Writer(split)
        for n in range(COUNTS[split]):
            d, truth = writer.dialogue()
            turns = writer.render(d)
            records.append(
                {
                    "id": f"gen-{split}-{n:03d}",
                    "split": split,
                    "source": "generated",
                    "shop": d.shop,
                    "label": truth,
                    "tags": sorted(d.tags),
                    "turns": turns,
                    "text": flat_text(turns),
                }
            )
    return records


_ROLE = {"S": "seller", "C": "customer", "O": "other"}


def _handwritten() -> list[dict[str, Any]]:
    records = []
    for item in yaml.safe_load(HANDWRITTEN.read_text(encoding="utf-8")):
        turns = []
        for line in item["turns"].strip().splitlines():
            who, _, said = line.partition(":")
            turns.append({"role": _ROLE[who.strip()], "text": said.strip()})
        records.append(
            {
                "id": item["id"],
                "split": item["split"],
                "source": "handwritten",
                "shop": item["shop"],
                "label": item["label"],
                "tags": sorted(item.get("tags", [])),
                "turns": turns,
                "text": flat_text(turns),
            }
        )
    return records


def load(split: str | None = None, path: Path = GENERATED) -> list[dict[str, Any]]:
    """The labelled corpus (generated + hand-written), optionally one split."""
    generated = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records = generated + _handwritten()
    return [r for r in records if split is None or r["split"] == split]


def load_legacy() -> list[dict[str, Any]]:
    """The first 66-dialogue set the first rules were written on (text only, no roles)."""
    items = yaml.safe_load(LEGACY.read_text(encoding="utf-8"))
    return [{**i, "source": "legacy", "turns": None, "tags": []} for i in items]


def fingerprint(records: list[dict[str, Any]]) -> str:
    """A content hash of records (order-independent): what freezes the test split."""
    lines = sorted(json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def main() -> None:
    """Write generated.jsonl and print the counts per split and label."""
    records = generate()
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    GENERATED.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    for split in SPLITS:
        labels = [r["label"] for r in records if r["split"] == split]
        print(split, len(labels), {k: labels.count(k) for k in LABELS})


if __name__ == "__main__":
    main()
