"""The one code path from transcript text to a verdict, shared by the function and the CLI."""

from __future__ import annotations

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
        return llm.analyze(text, settings, turns)
    return rules.analyze(text, turns)
