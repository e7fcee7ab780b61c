"""Receipts to dialogues and offers to receipt lines: the pure rules, without a database."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from salescontrol import lemmas
from salescontrol.receipt_match import (
    CONFIRMED,
    NO_RECEIPT,
    NOT_BOUGHT,
    Window,
    check,
    match,
    pairs,
    touched,
)

W = Window(before_ms=30_000, after_ms=180_000)
S = 1000


def test_a_receipt_goes_to_the_dialogue_that_ended_just_before_it() -> None:
    dialogues = {"staff talk": 100 * S, "sale": 160 * S}
    assert match({"r": 163 * S}, dialogues, W) == {"r": "sale"}
    # printed while the seller still says goodbye: a few seconds before the end
    assert match({"r": 157 * S}, dialogues, W) == {"r": "sale"}


def test_the_window_bounds_are_inclusive_and_nothing_outside_matches() -> None:
    end = {"d": 1000 * S}
    assert match({"r": 1180 * S}, end, W) == {"r": "d"}
    assert match({"r": 970 * S}, end, W) == {"r": "d"}
    assert match({"r": 1180 * S + 1}, end, W) == {"r": None}
    assert match({"r": 970 * S - 1}, end, W) == {"r": None}


def test_a_receipt_between_two_queued_customers_goes_to_the_right_one() -> None:
    # Customer A talks until 60 s; B steps up at 62 s and is done by 75 s. A's receipt
    # prints at 70 s, while B already talks (closer to B's end than to A's); B's at 78 s.
    dialogues = {"A": 60 * S, "B": 75 * S}
    assert match({"receipt A": 70 * S, "receipt B": 78 * S}, dialogues, W) == {
        "receipt A": "A",
        "receipt B": "B",
    }
    # B left without buying: A's receipt is still A's (10 s after A's end weighs as much
    # as 5 s before B's, and then the dialogue that ended before the receipt wins).
    assert match({"receipt A": 70 * S}, dialogues, W) == {"receipt A": "A"}
    # A receipt printed 6 s before its sale's end (goodbyes, "чек нужен?") is that sale's,
    # though the customer before left 34 s earlier.
    assert match({"r": 294 * S}, {"courier": 260 * S, "water": 300 * S}, W) == {"r": "water"}


def test_one_to_one_the_closer_receipt_wins_and_the_other_stays_unlinked() -> None:
    assert match({"near": 105 * S, "far": 200 * S}, {"d": 100 * S}, W) == {
        "near": "d",
        "far": None,
    }


def test_ties_are_broken_the_same_way_whatever_the_order() -> None:
    # Equal costs: the dialogue that ended before the receipt, then the ids.
    assert match({"r": 100 * S}, {"after": 105 * S, "before": 90 * S}, W) == {"r": "before"}
    assert match({"r": 100 * S}, {"b": 90 * S, "a": 90 * S}, W) == {"r": "a"}


times = st.integers(0, 3600).map(lambda s: s * S)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.integers(0, 40), times, max_size=20),
    st.dictionaries(st.integers(100, 140), times, max_size=20),
    st.randoms(use_true_random=False),
)
def test_matching_is_order_independent_stable_and_local(
    receipts: dict, dialogues: dict, rnd: random.Random
) -> None:
    linked = match(receipts, dialogues, W)
    shuffled_r = dict(rnd.sample(sorted(receipts.items()), len(receipts)))
    shuffled_d = dict(rnd.sample(sorted(dialogues.items()), len(dialogues)))
    assert match(shuffled_r, shuffled_d, W) == linked
    # one to one
    chosen = [d for d in linked.values() if d is not None]
    assert len(chosen) == len(set(chosen))
    # stable: no receipt and dialogue that both prefer each other to what they got
    cost = {(r, d): c for c, r, d in pairs(receipts, dialogues, W)}
    owner = {d: r for r, d in linked.items() if d is not None}
    for (r, d), c in cost.items():
        mine = cost.get((r, linked[r])) if linked[r] is not None else None
        theirs = cost.get((owner[d], d)) if d in owner else None
        assert not ((mine is None or c < mine) and (theirs is None or c < theirs))
    # the components around any time, matched alone, give the same links as the whole
    lo = rnd.randint(0, 3600) * S
    rs, ds = touched(receipts, dialogues, W, lo, lo)
    part = match({r: receipts[r] for r in rs}, {d: dialogues[d] for d in ds}, W)
    assert part == {r: linked[r] for r in rs}


# --- the receipt check ------------------------------------------------------------------


def _receipt(*lines: tuple[str, int, float]) -> dict:
    items = [{"name": n, "price": p, "quantity": q, "sum": round(p * q)} for n, p, q in lines]
    return {"items": items, "item_lemmas": [lemmas.terms(i["name"])["lemmas"] for i in items]}


def _check(
    receipt: dict | None, *offers: tuple[str, bool | None], said: str = ""
) -> tuple[list[dict], bool]:
    """The offers (product, accepted) checked; `said`: the transcript, by default the
    receipt's own lines (every line named in the dialogue)."""
    if not said and receipt is not None:
        said = ". ".join(item["name"] for item in receipt["items"])
    made = [{"product": p, "quote": p, "accepted": a} for p, a in offers]
    return check(made, lemmas.check_terms(said, [p for p, _ in offers]), receipt)


def test_an_accepted_croissant_is_confirmed_on_its_line_with_its_amount() -> None:
    receipt = _receipt(("Капучино 0,3", 15000, 1), ("Круассан классический", 7000, 1))
    (result,), contradicted = _check(receipt, ("круассан к кофе", True))
    assert result["status"] == CONFIRMED and result["line"] == 1
    assert result["name"] == "Круассан классический" and result["amount"] == 7000
    assert not contradicted


def test_an_offer_not_on_the_receipt_is_not_bought_and_an_accepted_one_is_flagged() -> None:
    receipt = _receipt(("Торт медовый", 65000, 1))
    (result,), contradicted = _check(receipt, ("свечи к торту", False))
    assert result["status"] == NOT_BOUGHT and result["line"] is None and not contradicted
    _, contradicted = _check(receipt, ("свечи к торту", True))
    assert contradicted


def test_without_a_receipt_every_offer_is_no_receipt() -> None:
    results, contradicted = _check(None, ("круассан", True), ("печенье", False))
    assert [r["status"] for r in results] == [NO_RECEIPT, NO_RECEIPT] and not contradicted


def test_asr_slips_and_receipt_abbreviations_still_match_but_short_lookalikes_do_not() -> None:
    receipt = _receipt(("КРУАССАН КЛАСС.", 7000, 1), ("ШОКОЛ. МОЛОЧН. 90Г", 9000, 1))
    results, _ = _check(receipt, ("круасан", True), ("шоколадку", True))
    assert [r["line"] for r in results] == [0, 1]
    (vodka,), _ = _check(_receipt(("Водка 0,5", 50000, 1)), ("вода", True))
    assert vodka["status"] == NOT_BOUGHT
    # pymorphy guesses unknown words' lemmas from their endings: "капучино" becomes
    # "капучиный", the ASR's "капучина" stays; only the endings differ
    (coffee,), _ = _check(_receipt(("Капучино 0,3 л", 15000, 1)), ("капучина", True))
    assert coffee["status"] == CONFIRMED
    (milk,), _ = _check(_receipt(("Шоколад молочный", 9000, 1)), ("молоко", True))
    assert milk["status"] == NOT_BOUGHT


def test_one_more_of_the_same_is_confirmed_by_a_repeated_product() -> None:
    two_lines = _receipt(
        ("Круассан с миндалём", 12000, 1), ("Круассан с миндалём (акция: 2-й за полцены)", 6000, 1)
    )
    (result,), _ = _check(two_lines, ("взять второй", True))
    assert (result["status"], result["line"], result["amount"]) == (CONFIRMED, 1, 6000)
    one_line = _receipt(("Круассан с миндалём", 9000, 2))
    (result,), _ = _check(one_line, ("второй круассан", True))
    assert (result["status"], result["line"], result["amount"]) == (CONFIRMED, 0, 9000)
    (result,), _ = _check(_receipt(("Круассан с миндалём", 12000, 1)), ("взять второй", True))
    assert result["status"] == NOT_BOUGHT
    two_products = _receipt(("Круассан", 7000, 1), ("Капучино", 15000, 1))
    (result,), _ = _check(two_products, ("взять второй", True))
    assert result["status"] == NOT_BOUGHT


def test_an_accepted_offer_asr_garbled_takes_the_one_line_nobody_named() -> None:
    receipt = _receipt(("Капучино 0,3 л", 15000, 1), ("Круассан классический", 7000, 1))
    said = "Мне капучина, пожалуйста. Может быть, возьмёте крово сон кофе? Да, давай ты один."
    (result,), contradicted = _check(receipt, ("крово сон кофе", True), said=said)
    assert (result["status"], result["line"], result["by"]) == (CONFIRMED, 1, "left over")
    assert not contradicted
    # refused, or with every line named in the dialogue: not bought
    (result,), _ = _check(receipt, ("крово сон кофе", False), said=said)
    assert result["status"] == NOT_BOUGHT
    named = "Мне капучино и круассан. Может, сироп? Да."
    (result,), contradicted = _check(receipt, ("сироп", True), said=named)
    assert result["status"] == NOT_BOUGHT and contradicted
    # two lines nobody named: which one the offer was is a guess, so none
    two = _receipt(("Капучино", 15000, 1), ("Круассан", 7000, 1), ("Эклер", 9000, 1))
    (result,), _ = _check(two, ("крово сон", True), said="Мне капучино. Крово сон? Да.")
    assert result["status"] == NOT_BOUGHT


def test_lemmas_keep_the_product_and_leave_out_what_it_goes_with() -> None:
    assert lemmas.terms("Может быть, ещё свечи к торту?") == {"lemmas": ["свеча"], "more": False}
    assert lemmas.terms("чехол для нового телефона")["lemmas"] == ["чехол"]
    assert lemmas.terms("Чай чёрный большой")["lemmas"] == ["чай", "черный", "большой"]
    assert lemmas.terms("ещё одну чашку") == {"lemmas": ["чашка"], "more": True}
    assert lemmas.terms("взять второй") == {"lemmas": [], "more": True}
