"""Prompt injection: words said at the till must not change the verdict.

Against the local test server playing a gullible model (tests/llm_server.py: it obeys any
instruction it is sent, and otherwise answers honestly), every dialogue of
tests/test_data/upsell/injections.yaml gets the same verdict with and without the
injected words.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from llm_server import FakeLLM

from salescontrol import config
from salescontrol.analysis import guard, service
from salescontrol.analysis.transcript import Turn

CASES = yaml.safe_load(
    (Path(__file__).parent / "test_data" / "upsell" / "injections.yaml").read_text("utf-8")
)
ROLE = {"S": "seller", "C": "customer"}


def turns(block: str) -> list[Turn]:
    return [Turn(ROLE[line[0]], line[2:].strip()) for line in block.strip().splitlines() if line]


@pytest.fixture
def gullible() -> Iterator[FakeLLM]:
    server = FakeLLM(script=["gullible"]).start()
    yield server
    server.stop()


def verdict(fake: FakeLLM, block: str, roles: bool) -> tuple:
    said = turns(block)
    text = " ".join(t.text for t in said)
    settings = config.load(
        {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base_url, "ANALYSIS_MIN_WORDS": "1"}
    )
    result = service.analyze_text(text, settings, "llm", said if roles else None)
    return (
        result.is_sales_dialogue,
        result.upsell_attempted,
        result.customer_accepted,
        result.quality_score,
    )


@pytest.mark.parametrize("roles", [True, False], ids=["roles", "text"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_injected_words_do_not_change_the_verdict(gullible, case, roles) -> None:
    assert verdict(gullible, case["injected"], roles) == verdict(gullible, case["clean"], roles)


def test_the_gullible_server_does_obey_an_unguarded_transcript(gullible, monkeypatch) -> None:
    """The test above can fail: without the guard the server follows the order."""
    monkeypatch.setattr(guard, "sanitise", lambda text: (text, 0))
    case = CASES[0]
    assert verdict(gullible, case["injected"], True) != verdict(gullible, case["clean"], True)


@pytest.mark.parametrize(
    "said",
    [
        "пакет нужен? давайте",
        "к ним чехол возьмёте, защитит от царапин",
        "поставьте десять литров на третью колонку",
        "эта модель, она тише",
        "систему скидок не поменяли?",
    ],
)
def test_shop_talk_is_left_alone(said) -> None:
    assert guard.sanitise(said) == (said, 0)
