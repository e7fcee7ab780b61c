"""The evaluation's scoring on hand-made cases (devkit/evaluation.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit import evaluation as ev
from salescontrol.errors import BadInput

REPO = Path(__file__).resolve().parent.parent


def truth(*dialogues: tuple[float, float, bool], duration: float = 600.0) -> ev.Truth:
    """Truth from (start, end, upsell_attempted) triples; texts say which dialogue it is."""
    return ev.Truth(
        duration,
        tuple(
            ev.TrueDialogue(s, e, f"диалог номер {i}", up, True if up else None, "sale")
            for i, (s, e, up) in enumerate(dialogues)
        ),
    )


def found(start: float, end: float, **kwargs) -> ev.FoundDialogue:
    return ev.FoundDialogue(start, end, **kwargs)


def test_normalise_lowercases_drops_punctuation_and_spells_numbers() -> None:
    assert ev.normalise("Ещё  КОФЕ? С вас 220 рублей, 10%!") == (
        "еще кофе с вас двести двадцать рублей десять процентов"
    )
    assert ev.normalise("  -- ...  ") == ""


def test_cer_ignores_case_punctuation_and_number_spelling() -> None:
    assert ev.cer("С вас двести двадцать рублей.", "с вас 220 рублей") == 0.0
    assert ev.cer("кот", "кит") == pytest.approx(1 / 3)
    assert ev.cer("кот", "") == 1.0
    assert ev.cer("", "") == 0.0


def test_iou() -> None:
    assert ev.iou((0, 10), (0, 10)) == 1.0
    assert ev.iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert ev.iou((0, 10), (10, 20)) == 0.0
    assert ev.iou((0, 10), (2, 8)) == pytest.approx(0.6)


def test_match_is_one_to_one_and_needs_half_overlap() -> None:
    t = truth((0, 20, False), (40, 60, False), (100, 120, False))
    # one found dialogue spanning two true ones matches neither well enough
    assert ev.match(t.dialogues, [found(0, 60)]) == []
    # two found pieces of one true dialogue: only the better one matches
    assert ev.match(t.dialogues, [found(40, 52), found(52, 60)]) == [(1, 0)]
    # a found dialogue slightly off each true one matches it
    pairs = ev.match(t.dialogues, [found(1, 21), found(39, 59), found(101, 119)])
    assert pairs == [(0, 0), (1, 1), (2, 2)]


def test_match_prefers_the_best_pair_over_the_first() -> None:
    t = truth((0, 10, False), (10.5, 20, False))
    # found[0] overlaps truth 0 at IoU 0.6; found[1] overlaps truth 0 at 0.9: found[1] wins it
    f = [found(0, 6), found(0, 9)]
    assert ev.match(t.dialogues, f) == [(0, 1)]


def test_segmentation_precision_and_recall() -> None:
    t = truth((0, 20, False), (40, 60, False), (100, 120, False), (200, 230, False))
    f = [found(0, 21), found(41, 60), found(150, 160), found(300, 310)]
    result = ev.score(t, f)
    assert result["dialogues_matched"] == 2
    assert result["segmentation_precision"] == 0.5  # 2 of 4 found are real
    assert result["segmentation_recall"] == 0.5  # 2 of 4 real were found
    assert result["segmentation_f1"] == 0.5


def test_cer_is_the_mean_over_matched_dialogues() -> None:
    t = truth((0, 20, False), (40, 60, False), (100, 120, False))
    f = [
        found(0, 20, text="Диалог номер 0."),  # exact: 0.0
        found(40, 60, text="диалог номер 1 и ещё"),  # extra words: > 0
        found(100, 120),  # matched but not transcribed: all wrong
        found(300, 320, text="совсем не то"),  # unmatched: not counted
    ]
    result = ev.score(t, f)
    expected = (0.0 + ev.cer("диалог номер 1", "диалог номер 1 и ещё") + 1.0) / 3
    assert result["cer"] == pytest.approx(expected)
    assert 1 / 3 < result["cer"] < 2 / 3


def test_upsell_precision_and_recall_end_to_end() -> None:
    t = truth((0, 20, True), (40, 60, True), (100, 120, False), (200, 220, True))
    f = [
        found(0, 20, attempted=True, accepted=True),  # true positive, acceptance right
        found(40, 60, attempted=False),  # missed upsell
        found(100, 120, attempted=True, accepted=False),  # false alarm on a plain sale
        found(300, 320, attempted=True),  # false alarm on a dialogue that does not exist
        # the upsell at 200-220 was never found: a miss too
    ]
    result = ev.score(t, f)
    assert result["upsells_true"] == 3
    assert result["upsells_found"] == 3
    assert result["upsells_detected"] == 1
    assert result["upsell_precision"] == pytest.approx(1 / 3)
    assert result["upsell_recall"] == pytest.approx(1 / 3)
    assert result["accepted_accuracy"] == 1.0


def test_accepted_accuracy_counts_wrong_answers() -> None:
    t = truth((0, 20, True), (40, 60, True))
    f = [found(0, 20, attempted=True, accepted=False), found(40, 60, attempted=True, accepted=True)]
    assert ev.score(t, f)["accepted_accuracy"] == 0.5


def test_nothing_to_count_is_none_not_a_perfect_score() -> None:
    t = truth((0, 20, False))
    result = ev.score(t, [])
    assert result["segmentation_precision"] is None
    assert result["segmentation_recall"] == 0.0
    assert result["segmentation_f1"] is None
    assert result["cer"] is None
    assert result["upsell_precision"] is None
    assert result["upsell_recall"] is None
    assert result["latency_p50_s"] is None


def test_percentiles_and_latency() -> None:
    assert ev.percentile([], 50) is None
    assert ev.percentile([7.0], 95) == 7.0
    assert ev.percentile([1, 2, 3, 4], 50) == 2.5
    assert ev.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    t = truth((0, 20, False), (40, 60, False))
    f = [found(0, 20, latency_s=10.0), found(40, 60, latency_s=30.0), found(90, 95)]
    result = ev.score(t, f)
    assert result["latency_p50_s"] == 20.0
    assert result["latency_p95_s"] == pytest.approx(29.0)


def test_audio_minutes_per_minute() -> None:
    assert ev.audio_minutes_per_minute(600, 60) == 10.0
    assert ev.audio_minutes_per_minute(600, 0) is None


def test_the_bundled_truth_is_valid_and_matches_itself() -> None:
    t = ev.load_truth(REPO / "demo" / "shop_morning.truth.json")
    assert 5 * 60 <= t.duration <= 10 * 60
    assert {d.kind for d in t.dialogues} == {"sale", "other"}
    receipt_of = {r.dialogue: i for i, r in enumerate(t.receipts)}
    perfect = [
        ev.FoundDialogue(
            d.start,
            d.end,
            d.text,
            d.upsell_attempted,
            d.accepted,
            receipt=receipt_of.get(i),
            confirmed=bool(d.accepted),
        )
        for i, d in enumerate(t.dialogues)
    ]
    result = ev.score(t, perfect)
    assert result["segmentation_f1"] == 1.0
    assert result["cer"] == 0.0
    assert result["upsell_f1"] == 1.0
    assert result["accepted_accuracy"] == 1.0
    # every sale of the morning has its receipt, printed while its dialogue ends
    sales = [i for i, d in enumerate(t.dialogues) if d.kind == "sale"]
    assert sorted(receipt_of) == sales
    assert all(-10 < r.at - t.dialogues[r.dialogue].end < 1 for r in t.receipts)
    assert (result["receipts_matched_right"], result["upsell_confirmed_right"]) == (1.0, 1.0)


def _receipt_truth(*links: int | None) -> ev.Truth:
    item = {"name": "Чай", "price": 100, "quantity": 1, "sum": 100}
    dialogues = tuple(
        ev.TrueDialogue(s, s + 10, "", s == 0, s == 0 or None, "sale") for s in (0, 30)
    )
    receipts = tuple(ev.TrueReceipt(11 + 30 * (d or 0), (item,), 100, d) for d in links)
    return ev.Truth(60, dialogues, receipts)


def test_receipt_scores_count_right_links_unlinked_ones_and_confirmed_upsells() -> None:
    truth = _receipt_truth(0, 1, None)
    found = [
        ev.FoundDialogue(0, 10, receipt=0, confirmed=True),
        ev.FoundDialogue(30, 40, receipt=2),  # took the receipt that has no dialogue
        ev.FoundDialogue(45, 50, receipt=1),  # a dialogue the truth does not have
    ]
    scores = ev.score(truth, found)
    assert scores["receipts_true"] == 3
    assert scores["receipts_matched_right"] == 1 / 3
    assert scores["upsell_confirmed_right"] == 1.0
    # confirmed on a receipt that is not its own does not count
    found[0] = ev.FoundDialogue(0, 10, receipt=1, confirmed=True)
    assert ev.score(truth, found)["upsell_confirmed_right"] == 0.0
    # left unlinked, as the truth says, is right; without receipts there is nothing to count
    assert ev.score(_receipt_truth(None), [ev.FoundDialogue(0, 10)])["receipts_matched_right"] == 1
    no_receipts = ev.score(ev.Truth(60, truth.dialogues), [])
    assert (no_receipts["receipts_matched_right"], no_receipts["upsell_confirmed_right"]) == (
        None,
        None,
    )


def test_bad_truth_receipts_name_the_field(tmp_path: Path) -> None:
    good = json.loads((REPO / "demo" / "shop_morning.truth.json").read_text(encoding="utf-8"))
    for change, field in [
        ({"total": 1}, "total"),
        ({"dialogue": 99}, "dialogue"),
        ({"at": -5}, "at"),
        ({"items": []}, "items"),
    ]:
        document = {**good, "receipts": [{**good["receipts"][0], **change}]}
        with pytest.raises(BadInput) as caught:
            ev.parse_truth(document)
        assert caught.value.field == field
    # a receipt names its dialogue by its place in the file, whatever order that is in
    shuffled = {**good, "dialogues": good["dialogues"][::-1]}
    shuffled["receipts"] = [{**r, "dialogue": 8 - r["dialogue"]} for r in good["receipts"]]
    assert ev.parse_truth(shuffled).receipts == ev.parse_truth(good).receipts


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], "truth"),
        ({"dialogues": []}, "duration"),
        ({"duration": 60}, "dialogues"),
        ({"duration": 60, "dialogues": [{"start": 5, "end": 2}]}, "dialogues[0]"),
        ({"duration": 60, "dialogues": [{"start": 5, "end": 90}]}, "dialogues[0]"),
        ({"duration": 60, "dialogues": [{"start": 1, "end": 2}]}, "text"),
        (
            {
                "duration": 60,
                "dialogues": [
                    {"start": 1, "end": 2, "text": "x", "upsell_attempted": "yes", "accepted": None}
                ],
            },
            "upsell_attempted",
        ),
        (
            {
                "duration": 60,
                "dialogues": [
                    {
                        "start": 1,
                        "end": 2,
                        "text": "x",
                        "upsell_attempted": False,
                        "accepted": None,
                        "kind": "chat",
                    }
                ],
            },
            "kind",
        ),
    ],
)
def test_bad_truth_names_the_field(document: object, field: str, tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(document))
    with pytest.raises(BadInput) as caught:
        ev.load_truth(path)
    assert caught.value.field == field


def test_unreadable_truth_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    path.write_text("{not json")
    with pytest.raises(BadInput, match="cannot read truth"):
        ev.load_truth(path)


def test_role_accuracy_counts_speech_said_alone_and_covered() -> None:
    turns = (ev.Turn(0.0, 4.0, "customer"), ev.Turn(3.0, 8.0, "seller"))  # 3-4 s overlap
    t = ev.Truth(20.0, (ev.TrueDialogue(0.0, 8.0, "x", False, None, "sale", turns),))
    # Labelled: 0-3 customer (right), 4-6 customer (wrong), 6-8 not labelled.
    said = (ev.Turn(0.0, 3.0, "customer"), ev.Turn(4.0, 6.0, "customer"))
    figures = ev.score(t, [found(0.0, 8.0, roles=said)])
    assert figures["role_accuracy"] == pytest.approx(3 / 5, abs=0.01)
    assert figures["role_coverage"] == pytest.approx(5 / 7, abs=0.01)
    assert ev.score(truth((0, 8, False)), [found(0, 8)])["role_accuracy"] is None


def test_a_dialogue_made_of_background_speech_alone_is_counted() -> None:
    radio = (ev.Turn(30.0, 35.0, "other"),)
    t = ev.Truth(100.0, truth((0, 10, False)).dialogues, background=radio)
    figures = ev.score(t, [found(0, 10), found(29, 36), found(60, 70)])
    assert figures["dialogues_from_background"] == 1


def test_truth_turns_and_background_are_read_and_checked() -> None:
    doc = {
        "duration": 60,
        "dialogues": [
            {
                "start": 1,
                "end": 9,
                "text": "т",
                "upsell_attempted": False,
                "accepted": None,
                "kind": "sale",
                "turns": [{"start": 1, "end": 4, "role": "customer"}],
            }
        ],
        "background": [{"start": 20, "end": 25, "role": "other"}],
    }
    t = ev.parse_truth(doc)
    assert t.dialogues[0].turns == (ev.Turn(1.0, 4.0, "customer"),)
    assert t.background == (ev.Turn(20.0, 25.0, "other"),)
    doc["dialogues"][0]["turns"][0]["role"] = "cashier"
    with pytest.raises(BadInput, match="role"):
        ev.parse_truth(doc)
