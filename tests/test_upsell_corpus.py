"""The labelled upsell corpus: big enough, covering every case, and its test split frozen."""

from __future__ import annotations

import json
from collections import Counter

from devkit import upsell_corpus as corpus

# The test split's content hash, taken when it was first committed, before any analyzer
# work. A change to any test record (text, label, roles) fails here: the split is frozen.
FROZEN_TEST = "8f9eff65497a657f7dbea763583aa5978ae1866e6321d9cca2d5df1566bee19b"
RECORDS = corpus.load()


def test_the_test_split_is_frozen() -> None:
    assert corpus.fingerprint(corpus.load("test")) == FROZEN_TEST


def test_the_generator_reproduces_the_stored_records() -> None:
    stored = [json.loads(line) for line in corpus.GENERATED.read_text().splitlines()]
    assert corpus.generate() == stored


def test_at_least_300_dialogues_in_three_splits_and_two_sources() -> None:
    assert len(RECORDS) >= 300
    assert len({r["id"] for r in RECORDS}) == len(RECORDS)
    assert {r["split"] for r in RECORDS} == set(corpus.SPLITS)
    test = [r for r in RECORDS if r["split"] == "test"]
    assert len(test) >= 100
    assert Counter(r["source"] for r in test).keys() == {"generated", "handwritten"}


def test_every_case_the_issue_names_is_covered_in_the_test_split() -> None:
    test = [r for r in RECORDS if r["split"] == "test"]
    shops = {r["shop"] for r in test}
    assert {"pharmacy", "bakery", "coffee", "electronics", "diy", "clothes"} <= shops
    assert {"books", "fuel", "fastfood"} <= shops
    tags = Counter(t for r in test for t in r["tags"])
    for wanted in (
        "cue",
        "nocue",
        "upsize",
        "customer_initiated",
        "service",
        "indirect",
        "ironic",
        "staff",
        "partial_start",
        "partial_end",
    ):
        assert tags[wanted] >= 3, wanted
    labels = Counter(r["label"] for r in test)
    assert all(labels[k] >= 10 for k in ("accepted", "refused", "none", "not_sale")), labels


def test_records_have_roles_and_the_text_is_their_turns() -> None:
    for r in RECORDS:
        assert r["label"] in corpus.LABELS
        assert r["turns"] and {t["role"] for t in r["turns"]} <= {"seller", "customer", "other"}
        assert r["text"] == corpus.flat_text(r["turns"])


def test_test_phrasings_are_held_out_of_dev() -> None:
    """Offer templates, add-ons and answers of the test split never appear in dev."""
    from devkit import upsell_pools as pools

    for pool in (pools.OFFERS_CUE, pools.OFFERS_NOCUE, pools.ACCEPT, pools.REFUSE_IRONIC):
        assert not set(corpus.part(pool, "test")) & set(corpus.part(pool, "dev"))
