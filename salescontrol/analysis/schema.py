"""The analysis result record and the JSON schema an LLM must answer with."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Strict structured output: every property required, no extras, nullable as a type union.
_OFFER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "product": {"type": "string", "description": "Что предложено, кратко."},
        "quote": {"type": "string", "description": "Реплика продавца с предложением."},
        "accepted": {
            "type": ["boolean", "null"],
            "description": "Согласился ли покупатель; null, если неясно.",
        },
    },
    "required": ["product", "quote", "accepted"],
    "additionalProperties": False,
}

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "is_sales_dialogue": {"type": "boolean"},
        "upsell_attempted": {"type": "boolean"},
        "offers": {"type": "array", "items": _OFFER_SCHEMA},
        "customer_accepted": {"type": ["boolean", "null"]},
        "quality_score": {"type": "integer", "description": "0-10 по рубрике."},
        "summary": {"type": "string"},
        "recommendation": {"type": "string"},
    },
    "required": [
        "is_sales_dialogue",
        "upsell_attempted",
        "offers",
        "customer_accepted",
        "quality_score",
        "summary",
        "recommendation",
    ],
    "additionalProperties": False,
}

SCHEMA_NAME = "upsell_analysis"
# Longest accepted field values (characters) and most offers: a longer answer is rejected.
LIMITS = {"product": 80, "quote": 300, "summary": 600, "recommendation": 600, "offers": 5}


class MalformedAnswer(ValueError):
    """An analyzer's answer does not fit ANSWER_SCHEMA."""


@dataclass(frozen=True)
class Offer:
    product: str
    quote: str
    accepted: bool | None


@dataclass(frozen=True)
class Analysis:
    """One dialogue's verdict, in the shape of dialogue_upsell_analysis."""

    is_sales_dialogue: bool
    upsell_attempted: bool
    offers: tuple[Offer, ...]
    customer_accepted: bool | None
    quality_score: int
    summary: str
    recommendation: str
    analyzer: str  # "llm" | "rules"
    model: str | None = None
    prompt_version: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. what PII was masked
    review: str | None = None  # why a person should check this verdict ("на проверку")

    def answer(self) -> dict[str, Any]:
        """The verdict in ANSWER_SCHEMA's shape."""
        return {
            "is_sales_dialogue": self.is_sales_dialogue,
            "upsell_attempted": self.upsell_attempted,
            "offers": [dataclasses.asdict(o) for o in self.offers],
            "customer_accepted": self.customer_accepted,
            "quality_score": self.quality_score,
            "summary": self.summary,
            "recommendation": self.recommendation,
        }

    def to_json(self) -> dict[str, Any]:
        """The verdict plus how it was made: what the CLI prints and `result` stores."""
        return {
            **self.answer(),
            "analyzer": self.analyzer,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "review": self.review,
            **self.extra,
        }


def _check(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedAnswer(f"{name} has the wrong type ({type(value).__name__})")
    limit = LIMITS.get(name.rpartition(".")[2])
    if isinstance(value, str | list) and limit is not None and len(value) > limit:
        raise MalformedAnswer(f"{name} is longer than {limit}")
    return value


def parse_answer(data: Any, **how: Any) -> Analysis:
    """Validate an answer against ANSWER_SCHEMA (strictly) and build the record."""
    if not isinstance(data, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    wanted = set(ANSWER_SCHEMA["required"])
    if set(data) != wanted:
        missing, extra = sorted(wanted - set(data)), sorted(set(data) - wanted)
        raise MalformedAnswer(
            f"answer keys differ from the schema: missing {missing}, extra {extra}"
        )
    offers = []
    for i, raw in enumerate(_check(data["offers"], list, "offers")):
        _check(raw, dict, f"offers[{i}]")
        if set(raw) != {"product", "quote", "accepted"}:
            raise MalformedAnswer(f"offers[{i}] keys differ from the schema")
        offers.append(
            Offer(
                product=_check(raw["product"], str, f"offers[{i}].product"),
                quote=_check(raw["quote"], str, f"offers[{i}].quote"),
                accepted=_check(raw["accepted"], (bool, type(None)), f"offers[{i}].accepted"),
            )
        )
    score = _check(data["quality_score"], int, "quality_score")
    if not 0 <= score <= 10:
        raise MalformedAnswer(f"quality_score {score} is outside 0-10")
    if bool(offers) != data["upsell_attempted"] or (not offers and score):
        raise MalformedAnswer("upsell_attempted, offers and quality_score contradict each other")
    if data["upsell_attempted"] and not data["is_sales_dialogue"]:
        raise MalformedAnswer("an upsell in a dialogue that is no sale")
    return Analysis(
        is_sales_dialogue=_check(data["is_sales_dialogue"], bool, "is_sales_dialogue"),
        upsell_attempted=_check(data["upsell_attempted"], bool, "upsell_attempted"),
        offers=tuple(offers),
        customer_accepted=_check(
            data["customer_accepted"], (bool, type(None)), "customer_accepted"
        ),
        quality_score=score,
        summary=_check(data["summary"], str, "summary"),
        recommendation=_check(data["recommendation"], str, "recommendation"),
        **how,
    )
