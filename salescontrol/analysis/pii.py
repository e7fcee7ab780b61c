"""Masking personal data in a transcript before any of it leaves for an LLM.

Whisper writes dictated numbers as digits ("8 916 123-45-67", "+7 (916) 1234567") and
sometimes as words ("восемь девятьсот шестнадцать ..."); both are masked. Order matters:
e-mails, then card numbers (13-19 digits), then Russian phone numbers, then any other
run of 10+ digits (passport, account, INN), then long runs of number words. Prices and
sizes (a few digits) stay, because the analysis needs them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_SEP = r"[\s\-()]*"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# 13-19 digits in groups of 4 (or solid), optionally separated by spaces or dashes.
_CARD = re.compile(r"(?<!\d)\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7}(?!\d)")
_PHONE = re.compile(
    rf"(?<![\d+])(?:\+\s*7|8|7){_SEP}\(?9\d{{2}}\)?{_SEP}\d{{3}}{_SEP}\d{{2}}{_SEP}\d{{2}}(?!\d)"
)
_LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[\s\-()]*\d){9,}(?!\d)")

# Russian numerals up to 999 (the rules read a total said in words with them too).
NUMBER_WORDS = (  # noqa: SIM905 (a word list reads better as one string)
    "ноль нуль один одна два две три четыре пять шесть семь восемь девять десять "
    "одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать "
    "восемнадцать девятнадцать двадцать тридцать сорок пятьдесят шестьдесят семьдесят "
    "восемьдесят девяносто сто двести триста четыреста пятьсот шестьсот семьсот "
    "восемьсот девятьсот"
).split()
_WORD = r"(?:" + "|".join(sorted([*NUMBER_WORDS, "плюс"], key=len, reverse=True)) + r"|\d+)"
# Seven or more number words in a row is a dictated phone/card, not a price.
_NUMBER_WORD_RUN = re.compile(rf"\b{_WORD}(?:[\s,\-]+{_WORD}){{6,}}\b", re.IGNORECASE)

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", _EMAIL),
    ("CARD", _CARD),
    ("PHONE", _PHONE),
    ("NUMBER", _LONG_NUMBER),
    ("NUMBER", _NUMBER_WORD_RUN),
)


@dataclass(frozen=True)
class Masked:
    text: str
    counts: dict[str, int]  # how many of each kind were masked, for the log and result


def mask(text: str) -> Masked:
    """Replace e-mails, card and phone numbers and other long numbers with [KIND]."""
    counts: Counter[str] = Counter()
    for kind, pattern in _RULES:

        def replace(match: re.Match[str], kind: str = kind) -> str:
            counts[kind] += 1
            return f"[{kind}]"

        text = pattern.sub(replace, text)
    return Masked(text, dict(counts))
