"""The one code path from transcript text to a verdict, shared by the function and the CLI."""

from __future__ import annotations

import dataclasses

from salescontrol.analysis import llm, rules
from salescontrol.analysis.schema import Analysis
from salescontrol.analysis.transcript import Turn
from salescontrol.config import Settings
from salescontrol.errors import ConfigError, SalesControlError

ANALYZERS = ("auto", "llm", "rules")


class Skipped(SalesControlError):
    """There is nothing to analyse in this transcript (empty or too short)."""


def choose(settings: Settings, override: str | None = None) -> str:
    """The analyzer to use: `llm` or `rules` (ANALYZER, unless overridden)."""
    name = (override or settings.analyzer).lower()
    if name not in ANALYZERS:
        raise ConfigError(f"ANALYZER={name!r} is not one of {', '.join(ANALYZERS)}")
    if name == "auto":
        return "llm" if settings.openai_api_key else "rules"
    if name == "llm":
        settings.require("openai_api_key")
    return name


def check_length(text: str, settings: Settings) -> None:
    """Raise Skipped for an empty or too-short transcript."""
    words = len(text.split())
    if words == 0:
        raise Skipped("empty transcript")
    least = settings.analysis_min_words
    if words < least:
        raise Skipped(f"transcript too short: {words} words < ANALYSIS_MIN_WORDS={least}")


def analyze_text(
    text: str, settings: Settings, analyzer: str | None = None, turns: list[Turn] | None = None
) -> Analysis:
    """Analyse one transcript (with speaker turns when known) with the configured (or
    given) analyzer."""
    name = choose(settings, analyzer)
    check_length(text, settings)
    if name == "llm":
        return cross_check(llm.analyze(text, settings, turns), rules.analyze(text, turns))
    return rules.analyze(text, turns)


def cross_check(verdict: Analysis, rules_verdict: Analysis) -> Analysis:
    """The LLM's verdict, marked for review ("на проверку") where the rules disagree."""
    reasons = []
    if verdict.upsell_attempted != rules_verdict.upsell_attempted:
        said = "допродажа была" if rules_verdict.upsell_attempted else "допродажи не было"
        reasons.append(f"по правилам {said}")
    elif verdict.upsell_attempted and verdict.customer_accepted != rules_verdict.customer_accepted:
        reasons.append("по правилам ответ покупателя другой")
    if verdict.is_sales_dialogue != rules_verdict.is_sales_dialogue:
        reasons.append(
            "по правилам это " + ("продажа" if rules_verdict.is_sales_dialogue else "не продажа")
        )
    check = {
        "upsell_attempted": rules_verdict.upsell_attempted,
        "customer_accepted": rules_verdict.customer_accepted,
        "is_sales_dialogue": rules_verdict.is_sales_dialogue,
    }
    return dataclasses.replace(
        verdict,
        review="; ".join(reasons) or None,
        extra={**verdict.extra, "rules_check": check},
    )
