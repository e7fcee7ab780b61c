"""The rules analyzer on the labelled shop dialogues, and PII masking."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from salescontrol.analysis import pii, rules
from salescontrol.analysis.schema import parse_answer

LABELLED = Path(__file__).parent / "test_data" / "upsell_labelled.yaml"
DIALOGUES = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))


def precision_recall(split: str | None) -> tuple[float, float, list[str]]:
    """Precision and recall of upsell_attempted, and the ids it got wrong."""
    tp = fp = fn = 0
    wrong = []
    for item in DIALOGUES:
        if split and item["split"] != split:
            continue
        gold = item["label"] in ("accepted", "refused")
        got = rules.analyze(item["text"]).upsell_attempted
        tp += gold and got
        fp += got and not gold
        fn += gold and not got
        if got != gold:
            wrong.append(item["id"])
    return tp / (tp + fp), tp / (tp + fn), wrong


def test_the_labelled_set_is_big_and_covers_every_case() -> None:
    labels = [d["label"] for d in DIALOGUES]
    assert len(DIALOGUES) >= 40
    assert {label: labels.count(label) >= 5 for label in set(labels)} == {
        "accepted": True,
        "refused": True,
        "none": True,
        "not_sale": True,
    }
    assert len({d["id"] for d in DIALOGUES}) == len(DIALOGUES)


def test_upsell_attempted_precision_and_recall_at_least_085() -> None:
    precision, recall, wrong = precision_recall(None)
    assert precision >= 0.85 and recall >= 0.85, f"P={precision:.2f} R={recall:.2f}: {wrong}"


# Dialogues the rules get wrong, with why: the README's known limits, kept honest here
# (strict: a change that fixes one must take it off this list).
KNOWN_MISSES = {
    "none-card-declined": "'попробуйте ещё раз приложить' reads as an offer",
    "fresh-acc-wine-cheese": "'к нему сыр хорошо подойдёт' has no offer cue word",
    "fresh-acc-lipstick-liner": "'акция на карандаш' has no offer cue word",
    "fresh-ref-jacket-hat": "'шапку не подберём?' has no offer cue word",
}


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(d, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[d["id"]]))
        if d["id"] in KNOWN_MISSES
        else d
        for d in DIALOGUES
    ],
    ids=lambda d: d["id"],
)
def test_upsell_attempted_per_dialogue(item) -> None:
    """Bag/card/receipt/payment questions are no upsells; offers are found."""
    result = rules.analyze(item["text"])
    assert result.upsell_attempted == (item["label"] in ("accepted", "refused"))
    if item["label"] == "none":
        assert result.is_sales_dialogue is True and result.quality_score == 0


@pytest.mark.parametrize(
    "item", [d for d in DIALOGUES if d["label"] == "not_sale"], ids=lambda d: d["id"]
)
def test_staff_talk_is_not_a_sales_dialogue(item) -> None:
    result = rules.analyze(item["text"])
    assert (result.is_sales_dialogue, result.upsell_attempted) == (False, False)


def test_acceptance_and_refusal_are_told_apart() -> None:
    attempted = [d for d in DIALOGUES if d["label"] in ("accepted", "refused")]
    right = sum(
        rules.analyze(d["text"]).customer_accepted == (d["label"] == "accepted") for d in attempted
    )
    assert right / len(attempted) >= 0.85


def test_a_verdict_has_the_llm_shape_and_is_deterministic() -> None:
    text = DIALOGUES[0]["text"]
    first, second = rules.analyze(text), rules.analyze(text)
    assert first == second
    assert parse_answer(first.answer(), analyzer="rules").answer() == first.answer()
    assert first.analyzer == "rules" and first.prompt_version == rules.VERSION
    assert first.offers and all(o.quote in rules.sentences(text) for o in first.offers)
    assert 0 < first.quality_score <= 10


def test_a_good_upsell_scores_higher_than_a_bare_one() -> None:
    good = rules.analyze(
        "мне вот этот шампунь. к нему рекомендую бальзам этой же серии, волосы будут мягче. "
        "давайте."
    )
    bare = rules.analyze("рекомендую бальзам. нет. с вас 300 рублей")
    assert good.quality_score > bare.quality_score > 0


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("звоните 8 916 123-45-67 вечером", "звоните [PHONE] вечером"),
        ("мой +7 (916) 123 45 67", "мой [PHONE]"),
        ("номер 89161234567", "номер [PHONE]"),
        ("карта 4276 3800 1234 5678 ок", "карта [CARD] ок"),
        ("карта 4276-3800-1234-5678", "карта [CARD]"),
        ("пишите на ivan.petrov@mail.ru", "пишите на [EMAIL]"),
        ("паспорт 45 12 345678", "паспорт [NUMBER]"),
        (
            "телефон восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
            "телефон [NUMBER]",
        ),
    ],
)
def test_personal_data_is_masked(text, masked) -> None:
    assert pii.mask(text).text == masked


@pytest.mark.parametrize(
    "text",
    ["с вас 5990 рублей", "итого 4 700", "сорок второй размер за две тысячи триста", "2 по 150"],
)
def test_prices_and_sizes_stay(text) -> None:
    assert pii.mask(text).text == text
