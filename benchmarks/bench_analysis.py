"""Upsell analyzers on the labelled corpus: precision/recall/F1/acceptance per split."""

from __future__ import annotations

import resource
import time

from common import write_result

from devkit import rules_v1, upsell_corpus
from devkit.rushhour import layout, scripts
from devkit.upsell_eval import COLUMNS, score
from salescontrol.analysis import rules

REPEATS = 20


def _cpu() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def as_records(pool: tuple[scripts.Script, ...], name: str) -> list[dict]:
    """Rush-hour dialogue scripts as labelled records: their own words, perfect roles."""
    labels = {True: "accepted", False: "refused", None: "unclear"}
    return [
        {
            "id": f"{name}-{i}",
            "label": "not_sale"
            if s.kind == "other"
            else (labels[s.accepted] if s.upsell_attempted else "none"),
            "text": " ".join(text for _, text in s.lines),
            "turns": [{"role": role, "text": text} for role, text in s.lines],
        }
        for i, s in enumerate(pool)
    ]


def main() -> None:
    splits = {s: upsell_corpus.load(s) for s in upsell_corpus.SPLITS}
    splits["first set (66)"] = upsell_corpus.load_legacy()
    analyzers = [
        ("rules_v1 (first rules), text", lambda t, turns: rules_v1.analyze(t), False),
        (f"{rules.VERSION}, text only", rules.analyze, False),
        (f"{rules.VERSION}, with roles", rules.analyze, True),
    ]
    rows = []
    for split, records in splits.items():
        for name, analyze, roles in analyzers:
            if roles and split.startswith("first"):
                continue  # the first set has no roles
            rows.append([split, name, *score(analyze, records, roles).row()])
    pools = {
        "rush-hour dev/test dialogues (14, seen)": as_records(scripts.SCRIPTS, "rush"),
        **{
            f"rush-hour {layout.blind_label(blind)}": as_records(
                blind.SCRIPTS, layout.blind_name(blind)
            )
            for blind in layout.BLIND_SETS
        },
    }
    script_rows = [
        [pool, name, *score(analyze, records, roles).row()]
        for pool, records in pools.items()
        for name, analyze, roles in analyzers[1:]
    ]
    test = {r[1]: r for r in rows if r[0] == "test"}
    v1, text, roles = (test[name] for name, _, _ in analyzers)
    every = [r for records in splits.values() for r in records]
    started = _cpu()
    for _ in range(REPEATS):
        for record in every:
            rules.analyze(record["text"])
    per_dialogue_ms = (_cpu() - started) * 1000 / (REPEATS * len(every))
    write_result(
        "analysis",
        "Upsell analysis: rules analyzers on the labelled corpus",
        (
            f"The offline analyzers on the labelled corpus ({len(every) - 66} dialogues with "
            "speaker roles in tests/test_data/upsell/, made by devkit/upsell_corpus.py: 330 "
            "generated from seeded phrase pools, 87 hand-written; twelve kinds of shop, offers "
            "with and without cue words, bigger sizes and combos, customer-initiated add-ons, "
            "service questions, substitutes, direct, indirect and ironic answers, staff talk, "
            "dialogues cut at either end) and on the first 66-dialogue set. How each split "
            "relates to the rules: dev — the rules were developed on it; holdout — looked at "
            "after the first version, for a second round; test — frozen (committed and hashed "
            "before any analyzer work, its generated part phrased only with held-out "
            "templates, add-ons and answers), never tuned on: the honest figure. The first "
            "set's dev/holdout/fresh parts were seen while writing rules_v2 (and rules_v1 was "
            f"developed on its dev part). On the frozen test split {rules.VERSION} reaches "
            f"precision {text[3]} / recall {text[4]} on the text alone and "
            f"{roles[3]} / {roles[4]} with speaker roles, against {v1[3]} / {v1[4]} for the "
            "first rules. Eleven test "
            "measurements were taken, each after a change motivated and checked elsewhere: "
            "(1) the first version: 0.929 / 0.94 (text), 0.889 / 0.952 (roles); (2) the roles "
            "path made to read answers like the text path (a weak proposal frame needs a yes "
            "or no, not just any customer turn; checked on dev and holdout): 0.929 / 0.94 and "
            "0.94 / 0.94; (3) 'нет, не нужен' after a service question no longer read as an "
            "offer (found on the demo's truth texts, where it was a false upsell); (4) rules_v3: "
            "statement offers (an item presented as just made, still warm, cheaper by the pack, "
            "or tied to the purchase and praised), 'многие берут' after a 'можно', a sale heard "
            "with no customer voice (roles that took the far customer for the seller), a "
            "seller turn cut in two before the answer or mid-sentence, 'к сожалению' as a "
            "missing item (all found on the rush-hour dev "
            "recordings' transcripts, checked on dev and holdout): unchanged; (5) rules_v4: "
            "offers read through Whisper's slips — a full stop inside a phrase ('к этому. "
            "Корму …'), a word glued to 'добавим' — the seller's 'можно добавить …', 'у нас "
            "сегодня …' answered past the seller's next sentence, 'не …йте' after a yes-word "
            "read as a no (found on the held-out recordings' end-to-end misses; dev, holdout "
            "and the rush-hour dev transcripts unchanged): unchanged; (6) rules_v5: the "
            "seller's 'а … у вас есть?' (do you have one?) is an offer, an offer after the "
            "price in one sentence ('540 рублей, к ней есть …'), 'дороже всего на', 'но нет' a "
            "no, 'брать так брать' and 'как тут устоять' a yes (found on the unseen "
            "recordings' end-to-end misses; dev, holdout, the rush-hour dev and held-out "
            "transcripts unchanged): text unchanged, with roles 0.94 / 0.94 → 0.941 / 0.952; (7) "
            "rules_v6: the answer read through what ASR and roles get wrong — a reply split in "
            "two turns read whole, the offered item's bare price skipped, a short yes or no "
            "the roles gave to the seller taken as the customer's, a reply naming how many "
            "('раз свежие, два') a yes; the seller's 'а … уже есть?' and 'наш домашний …' "
            "offers; 'ещё что нужно?' and 'другой марки' no offer; a word starting like "
            "'смена' no staff talk, and a bill in words a sale (found on the sealed "
            "recordings' end-to-end misses; dev and holdout unchanged): unchanged; (8) "
            "rules_v7: a question about the offered item without a question mark, or a reply "
            "with neither yes nor no, waits for her next reply while the seller answers; a "
            "total that adds the item's price to an earlier one is a yes; a bigger size or "
            "'ещё есть …' said as a statement, the seller's 'есть у вас …?', 'что -нибудь' as "
            "Whisper spaces it (found on the probe recordings' misses): text 0.929 / 0.94, "
            "with roles 0.942 / 0.964; (9) rules_v8: offers inside a sentence ('…, может "
            "сразу …', 'им бы …', 'а вот к этому у нас новый …', a bundle, a price difference "
            "before the offer), the seller's next words as the answer ASR lost ('добавила', a "
            "total naming the item, 'понял' taking a no), a short reply naming the item a yes "
            "(found on the cellar recordings' misses): unchanged (acceptance with roles 0.915 "
            "→ 0.902); (10) rules_v9: a free service ('это бесплатно') and the seller's 'есть, "
            "…' to her '… ещё есть?' and advice on what she asked no offer, 'с вас 210 и "
            "вот …' cut into the bill and an "
            "offer, 'берите' an offer verb, a variant named with its first sound lost a yes, "
            "up to four replies read (found on the attic recordings' misses): text 0.94 / "
            "0.94, with roles unchanged; (11) rules_v10 and rules_v11 together (a reminder, "
            "a which-question, her discounted total, the seller's 'да, …' to her question, "
            "what she takes described or handed to her no offer; 'можно с …', 'а есть такой "
            "же большой …', 'без … никак', a set at a price offers; 'оформляйте', 'несите' a "
            "yes, 'ага, если бы …' a no; found on the den and annex recordings' misses): "
            "text acceptance 0.854 → 0.841, the rest unchanged: the figures in the table. "
            "The corpus is synthetic "
            "and written by the "
            "author of the rules. "
            f"Rules cost nothing and take {per_dialogue_ms:.2f} ms of CPU per dialogue; the "
            "real small LLM's run on the same split is in the next section. The rush-hour "
            "recordings' dialogue scripts on their own words: the 14 that the dev and test "
            "recordings share were in view while rules_v3 was written (tuned); the 28 "
            "held-out ones were written blind to the rules (devkit/rushhour/heldout.py): "
            "rules_v2 (measured once, commit 50c849e) got the same 12 of their 14 offers with "
            "roles as rules_v3, so what the "
            "held-out recordings lose end to end (bench_eval) is lost in ASR, segmentation "
            "and roles, not in the rules; rules_v4 was then written from the held-out "
            "recordings' transcripts, rules_v5 from the 28 unseen dialogues' "
            "(devkit/rushhour/unseen.py, by another author who opened no project file), and "
            "rules_v6 from the 28 sealed dialogues' (devkit/rushhour/sealed.py, a third such "
            "author, another brief), rules_v7 from the 28 probe dialogues' (a sixth author, "
            "written to be read), rules_v8 from the 28 cellar dialogues' (a seventh) and "
            "rules_v9 from the 28 attic dialogues' (an eighth), rules_v10 from the 28 den "
            "dialogues' (a tenth) and rules_v11 from the 28 annex dialogues' (an eleventh), "
            "so the 28 reserve dialogues "
            "(devkit/rushhour/reserve.py, a fourth such author, committed before rules_v6), "
            "the 28 vault dialogues (devkit/rushhour/vault.py, a fifth, committed after "
            "rules_v6), the 28 loft dialogues (devkit/rushhour/loft.py, a ninth, committed "
            "before rules_v9) and the 28 shed dialogues (devkit/rushhour/shed.py, a twelfth, "
            "committed before rules_v11) are the blind sets now."
        ),
        [
            {
                "columns": ["split", "analyzer", *COLUMNS],
                "rows": rows,
            },
            {
                "title": "Rush-hour dialogue scripts, their own words (no ASR, true roles)",
                "columns": ["scripts", "analyzer", *COLUMNS],
                "rows": script_rows,
            },
            {
                "columns": ["analyzer", "CPU ms per dialogue", "USD per dialogue"],
                "rows": [[rules.VERSION, round(per_dialogue_ms, 3), 0.0]],
            },
        ],
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


if __name__ == "__main__":
    main()
