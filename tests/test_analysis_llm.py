"""The LLM analyzer against a local OpenAI-compatible server: what it sends, how it retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llm_server import GOOD_ANSWER, USAGE, FakeLLM

from salescontrol import config
from salescontrol.analysis import llm, service
from salescontrol.analysis.schema import ANSWER_SCHEMA
from salescontrol.analysis.transcript import Turn
from salescontrol.errors import ConfigError, TransientError

TRANSCRIPT = (
    "здравствуйте мне вот эти наушники. к ним может быть чехол возьмете защитит от царапин. "
    "да давайте. с вас 5990 рублей. номер для бонусов 8 916 123-45-67, "
    "чек на почту anna.smirnova@yandex.ru, карта 4276 3800 1234 5678"
)
PII = ["916", "123-45-67", "anna.smirnova", "yandex.ru", "4276", "5678"]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


def settings_for(fake: FakeLLM, **extra: str) -> config.Settings:
    return config.load(
        {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_MODEL": "test-model-7b",
            "OPENAI_BACKOFF_SEC": "0.01",
            **extra,
        }
    )


def test_sends_masked_text_strict_schema_and_the_configured_model(fake) -> None:
    result = service.analyze_text(TRANSCRIPT, settings_for(fake))
    (request,) = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.body
    assert body["model"] == "test-model-7b"
    sent = "\n".join(m["content"] for m in body["messages"])
    for secret in PII:
        assert secret not in sent, f"{secret!r} left the machine"
    assert "[PHONE]" in sent and "[EMAIL]" in sent and "[CARD]" in sent
    assert "наушники" in sent and "5990" in sent  # the analysis still gets the dialogue
    schema = body["response_format"]
    assert schema["type"] == "json_schema"
    assert schema["json_schema"]["strict"] is True
    assert schema["json_schema"]["schema"] == ANSWER_SCHEMA
    assert body["messages"][0]["content"] == llm.prompt("upsell_v2")
    assert result.upsell_attempted is True
    assert result.offers[0].product == GOOD_ANSWER["offers"][0]["product"]
    assert (result.analyzer, result.model, result.prompt_version) == (
        "llm",
        "test-model-7b",
        "upsell_v2",
    )
    assert result.prompt_tokens == USAGE["prompt_tokens"]
    assert result.completion_tokens == USAGE["completion_tokens"]
    assert result.cost_usd == pytest.approx(900 * 0.15 / 1e6 + 120 * 0.60 / 1e6)
    assert result.extra["pii_masked"] == {"EMAIL": 1, "CARD": 1, "PHONE": 1}


@pytest.mark.parametrize(
    "failure", ["429", "500", "malformed", "off-schema", "bad-quote", "too-long"]
)
def test_a_failure_is_retried_and_tokens_of_every_attempt_are_counted(fake, failure) -> None:
    fake.script = [failure, "good"]
    result = service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert [r.answered for r in fake.requests] == [failure, "good"]
    assert result.quality_score == GOOD_ANSWER["quality_score"]
    paid = 1 if failure in ("429", "500") else 2
    assert result.prompt_tokens == paid * USAGE["prompt_tokens"]


def test_a_malformed_answer_every_time_fails_with_the_reason(fake) -> None:
    fake.script = ["malformed", "off-schema", "malformed"]
    with pytest.raises(llm.AnalysisFailed, match=r"malformed answer: .*after 3 attempts"):
        service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert len(fake.requests) == 3


def test_rate_limited_every_time_is_transient(fake) -> None:
    fake.script = ["429"]
    with pytest.raises(TransientError, match="RateLimitError"):
        service.analyze_text(TRANSCRIPT, settings_for(fake, OPENAI_MAX_ATTEMPTS="2"))
    assert len(fake.requests) == 2


def test_the_servers_retry_after_is_honoured(fake) -> None:
    fake.script, fake.retry_after = ["429", "good"], "1"
    service.analyze_text(TRANSCRIPT, settings_for(fake))
    first, second = fake.requests
    assert second.at - first.at >= 1.0  # backoff alone would be 0.01 s


def test_timeout_is_honoured_and_a_slow_answer_retried(fake) -> None:
    fake.script, fake.slow_sec = ["slow", "good"], 3.0
    result = service.analyze_text(TRANSCRIPT, settings_for(fake, OPENAI_TIMEOUT_SEC="0.5"))
    assert [r.answered for r in fake.requests] == ["slow", "good"]
    assert result.upsell_attempted is True


def test_a_refused_request_is_not_retried(fake) -> None:
    fake.script = ["400"]
    with pytest.raises(llm.AnalysisFailed, match="400"):
        service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert len(fake.requests) == 1


def test_a_rejected_key_is_a_configuration_error(fake) -> None:
    fake.script = ["401"]
    with pytest.raises(ConfigError, match=r"answered 401.*check OPENAI_API_KEY"):
        service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert len(fake.requests) == 1


def test_analyzer_choice() -> None:
    assert service.choose(config.load({})) == "rules"
    assert service.choose(config.load({"OPENAI_API_KEY": "sk"})) == "llm"
    assert service.choose(config.load({"OPENAI_API_KEY": "sk", "ANALYZER": "rules"})) == "rules"
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        service.choose(config.load({"ANALYZER": "llm"}))
    with pytest.raises(ConfigError, match="ANALYZER='gpt' is not one of"):
        service.choose(config.load({"ANALYZER": "gpt"}))


def test_too_short_transcript_is_skipped_before_any_request(fake) -> None:
    with pytest.raises(service.Skipped, match="too short: 2 words"):
        service.analyze_text("пакет нужен", settings_for(fake))
    with pytest.raises(service.Skipped, match="empty"):
        service.analyze_text("  ", settings_for(fake))
    assert fake.requests == []


def test_the_transcript_goes_as_delimited_data_with_roles(fake) -> None:
    turns = [
        Turn("customer", "здравствуйте мне вот эти наушники."),
        Turn("seller", "к ним может быть чехол возьмете защитит от царапин."),
        Turn("customer", "да давайте."),
    ]
    service.analyze_text(" ".join(t.text for t in turns), settings_for(fake), turns=turns)
    user = fake.requests[0].body["messages"][1]["content"]
    lines = user.splitlines()
    assert lines[0].startswith("<<<РАСШИФРОВКА ") and lines[-1].startswith("<<<КОНЕЦ")
    assert lines[0].split()[-1] == lines[-1].split()[-1]  # the same code at both ends
    assert lines[1:-1] == [
        "[покупатель] здравствуйте мне вот эти наушники.",
        "[продавец] к ним может быть чехол возьмете защитит от царапин.",
        "[покупатель] да давайте.",
    ]


def test_a_server_refusing_json_schema_gets_json_object_and_is_remembered(fake) -> None:
    """llama-cpp-python's server: 500 "Input should be 'text' or 'json_object'"."""
    fake.formats = frozenset({"json_object+schema", "json_object", "text"})
    first = service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert [r.format for r in fake.requests] == ["json_schema", "json_object+schema"]
    assert first.extra["response_format"] == "json_object+schema"
    assert first.extra["attempts"] == 1
    asked = fake.requests[1].body
    assert asked["response_format"]["schema"] == ANSWER_SCHEMA
    assert '"quality_score"' in asked["messages"][0]["content"]  # the shape in the prompt
    service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert [r.format for r in fake.requests][2:] == ["json_object+schema"]  # remembered


def test_a_server_refusing_a_schema_in_json_object_gets_plain_json_object(fake) -> None:
    fake.formats = frozenset({"json_object", "text"})
    result = service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert [r.format for r in fake.requests] == [
        "json_schema",
        "json_object+schema",
        "json_object",
    ]
    assert result.extra["response_format"] == "json_object"


def test_a_text_only_server_is_answered_in_prose_and_parsed_here(fake) -> None:
    fake.formats, fake.script = frozenset({"text"}), ["fenced"]
    result = service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert [r.format for r in fake.requests] == [
        "json_schema",
        "json_object+schema",
        "json_object",
        "text",
    ]
    assert "response_format" not in fake.requests[-1].body
    assert result.quality_score == GOOD_ANSWER["quality_score"]


def test_a_pinned_format_the_server_refuses_is_a_configuration_error(fake) -> None:
    fake.formats = frozenset({"json_object", "text"})
    settings = settings_for(fake, OPENAI_RESPONSE_FORMAT="json_schema")
    with pytest.raises(ConfigError, match=r"refuses OPENAI_RESPONSE_FORMAT=json_schema"):
        service.analyze_text(TRANSCRIPT, settings)
    assert len(fake.requests) == 1  # not retried as an outage


def test_an_answer_the_rules_disagree_with_is_marked_for_review(fake) -> None:
    quiet = "мне хлеб и молоко. пакет нужен? нет спасибо. с вас 112 рублей."
    fake.script = ["good"]
    with pytest.raises(llm.AnalysisFailed, match="not in the transcript"):
        service.analyze_text(quiet, settings_for(fake))  # the quote is not there
    agreed = service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert agreed.review is None
    assert agreed.extra["rules_check"]["upsell_attempted"] is True


def test_disagreement_is_named() -> None:
    from salescontrol.analysis import rules

    said = rules.analyze("мне хлеб. пакет нужен? нет. с вас 60 рублей.")
    verdict = rules.analyze("мне хлеб. к нему масло возьмёте? давайте. с вас 160 рублей.")
    flagged = service.cross_check(verdict, said)
    assert flagged.review == "по правилам допродажи не было"
    assert flagged.to_json()["review"] == flagged.review
