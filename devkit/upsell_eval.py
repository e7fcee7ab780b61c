"""Scoring an upsell analyzer on the labelled corpus: precision, recall, F1, acceptance.

`python -m devkit.upsell_eval [SPLIT ...]` prints the figures of the rules analyzer per
split, with roles and without, and the ids it gets wrong (use it on dev and holdout only:
the test split is frozen and no rule is tuned on it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devkit import upsell_corpus as corpus
from salescontrol.analysis import rules
from salescontrol.analysis.schema import Analysis
from salescontrol.analysis.transcript import Turn

Analyzer = Callable[[str, "list[Turn] | None"], Analysis]


# What Score.row() gives, in order: the benchmarks' column names.
COLUMNS = [
    "dialogues",
    "precision (upsell_attempted)",
    "recall",
    "F1",
    "accepted/refused right",
    "sales vs staff talk right",
]


@dataclass
class Score:
    dialogues: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    acceptance_right: int = 0
    acceptance_total: int = 0
    sales_right: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def acceptance(self) -> float:
        """Right accepted/refused verdicts among dialogues with an answered offer."""
        return self.acceptance_right / self.acceptance_total if self.acceptance_total else 0.0

    def add(self, record: dict[str, Any], result: Analysis) -> None:
        """Count one dialogue's verdict against its label."""
        gold = record["label"] in corpus.ATTEMPTED
        got = result.upsell_attempted
        self.dialogues += 1
        self.tp += gold and got
        self.fp += got and not gold
        self.fn += gold and not got
        self.sales_right += result.is_sales_dialogue == (record["label"] != "not_sale")
        if got != gold:
            self.wrong.append(record["id"])
        if record["label"] in ("accepted", "refused"):
            self.acceptance_total += 1
            right = result.customer_accepted == (record["label"] == "accepted")
            self.acceptance_right += right
            if got and gold and not right:
                self.wrong.append(f"{record['id']} (answer)")

    def row(self) -> list[Any]:
        """The figures under COLUMNS."""
        return [
            self.dialogues,
            round(self.precision, 3),
            round(self.recall, 3),
            round(self.f1, 3),
            round(self.acceptance, 3),
            round(self.sales_right / self.dialogues, 3) if self.dialogues else 0.0,
        ]


def turns_of(record: dict[str, Any]) -> list[Turn] | None:
    """A record's turns with their roles (None for the legacy text-only set)."""
    if not record.get("turns"):
        return None
    return [Turn(t["role"], t["text"]) for t in record["turns"]]


def score(analyze: Analyzer, records: list[dict[str, Any]], roles: bool) -> Score:
    """Run an analyzer over records, with their roles or on the flat text alone."""
    result = Score()
    for record in records:
        result.add(record, analyze(record["text"], turns_of(record) if roles else None))
    return result


def main(splits: list[str]) -> None:
    """Print the rules analyzer's figures and misses for the given splits."""
    for split in splits or ["dev", "holdout"]:
        records = corpus.load_legacy() if split == "legacy" else corpus.load(split)
        for roles in (False, True):
            s = score(rules.analyze, records, roles)
            print(split, "roles" if roles else "text", s.row())
            for wrong in s.wrong:
                print("   ", wrong)


if __name__ == "__main__":
    main(sys.argv[1:])
