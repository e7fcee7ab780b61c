"""The LLM analyzer against a local OpenAI-compatible server: what it sends, how it retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llm_server import GOOD_ANSWER, USAGE, FakeLLM

from salescontrol import config
from salescontrol.analysis import llm, service
from salescontrol.analysis.schema import ANSWER_SCHEMA
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
    assert body["messages"][0]["content"] == llm.prompt("upsell_v1")
    assert result.upsell_attempted is True
    assert result.offers[0].product == GOOD_ANSWER["offers"][0]["product"]
    assert (result.analyzer, result.model, result.prompt_version) == (
        "llm",
        "test-model-7b",
        "upsell_v1",
    )
    assert result.prompt_tokens == USAGE["prompt_tokens"]
    assert result.completion_tokens == USAGE["completion_tokens"]
    assert result.cost_usd == pytest.approx(900 * 0.15 / 1e6 + 120 * 0.60 / 1e6)
    assert result.extra["pii_masked"] == {"EMAIL": 1, "CARD": 1, "PHONE": 1}


@pytest.mark.parametrize("failure", ["429", "500", "malformed", "off-schema"])
def test_a_failure_is_retried_and_tokens_of_every_attempt_are_counted(fake, failure) -> None:
    fake.script = [failure, "good"]
    result = service.analyze_text(TRANSCRIPT, settings_for(fake))
    assert [r.answered for r in fake.requests] == [failure, "good"]
    assert result.quality_score == GOOD_ANSWER["quality_score"]
    paid = 2 if failure in ("malformed", "off-schema") else 1
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
