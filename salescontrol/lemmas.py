"""Russian lemmas of product names (offers, receipt lines) for the receipt check.

Run where the text enters: the analyze function for offers, ingest and the import
command for receipt lines; the lemmas are stored, so the check itself (`receipt_match`)
needs no dictionary. pymorphy3 with its Russian dictionary, loaded once per process.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# Parts of speech that never name a product: pronouns, verbs, prepositions, adverbs...
_SKIP = {"NPRO", "PREP", "CONJ", "PRCL", "INTJ", "INFN", "VERB", "GRND", "ADVB", "PRED"}
_ONE = {"один", "первый"}
_PURPOSE = {"к", "ко", "для"}


@functools.cache
def _morph() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def terms(text: str) -> dict[str, Any]:
    """{"lemmas": content words' lemmas, "more": asks for more of the same (второй, два,
    ещё один)}. Left out: numbers, words under 3 letters, and what the product is for
    ("свечи к торту", "чехол для телефона": the purchase it goes with is no offer)."""
    words = re.findall(r"[а-яa-z]+", text.lower().replace("ё", "е"))
    lemmas, more, purpose = [], False, False
    for i, word in enumerate(words):
        parse = _morph().parse(word)[0]
        tag, lemma = parse.tag, parse.normal_form.replace("ё", "е")
        counted = "Anum" in tag or tag.POS == "NUMR"
        if word in _PURPOSE or purpose:
            purpose = word in _PURPOSE or tag.POS != "NOUN"
        elif counted and lemma not in _ONE:
            more = True
        elif word == "еще" and words[i + 1 : i + 2] and words[i + 1].startswith("одн"):
            more = True  # "ещё один", "ещё одну"
        elif not counted and tag.POS not in _SKIP and "Apro" not in tag and len(word) > 2:
            lemmas.append(lemma)
    return {"lemmas": lemmas, "more": more}


def check_terms(transcript: str, products: list[str]) -> dict[str, Any]:
    """What the receipt check needs of an analysis: each offered product's terms and the
    lemmas of everything said (`receipt_match.check`)."""
    return {"offers": [terms(p) for p in products], "said": terms(transcript)["lemmas"]}
