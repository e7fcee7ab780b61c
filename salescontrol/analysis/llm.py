"""The LLM analyzer: one chat completion with strict JSON-schema structured output.

Only masked text is sent (see `pii`). Rate limits (429), server errors (5xx),
timeouts and connection failures are retried with exponential backoff (or the server's
Retry-After, if longer); an answer that
is not valid JSON or does not fit the schema is retried too. When the attempts run out,
a transient cause raises TransientError (the message is redelivered later) and a
malformed answer raises AnalysisFailed (the dialogue is FAILED with the reason).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path
from typing import Any

import openai

from salescontrol.analysis.pii import mask
from salescontrol.analysis.schema import (
    ANSWER_SCHEMA,
    SCHEMA_NAME,
    Analysis,
    MalformedAnswer,
    parse_answer,
)
from salescontrol.config import Settings
from salescontrol.errors import ConfigError, SalesControlError, TransientError

log = logging.getLogger(__name__)

ANALYZER = "llm"
PROMPTS = Path(__file__).with_name("prompts")
MAX_RETRY_AFTER_SEC = 30.0  # keeps all attempts inside the subscription's ack deadline
_TRANSIENT = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)


class AnalysisFailed(SalesControlError):
    """The analyzer cannot produce a valid answer for this transcript."""


@functools.cache
def prompt(version: str) -> str:
    """The system prompt of a version (prompts/<version>.md)."""
    path = PROMPTS / f"{version}.md"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROMPTS.glob("*.md")))
        raise AnalysisFailed(f"no prompt {version!r} (known: {known})")
    return path.read_text(encoding="utf-8")


@functools.cache
def _client(api_key: str, base_url: str, timeout: float) -> openai.OpenAI:
    # Retries are ours (they also cover malformed answers), so the client's are off.
    return openai.OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)


def cost_usd(settings: Settings, prompt_tokens: int, completion_tokens: int) -> float:
    """Estimated price of one request at the configured per-token prices."""
    return round(
        prompt_tokens * settings.openai_price_input_per_1m / 1e6
        + completion_tokens * settings.openai_price_output_per_1m / 1e6,
        6,
    )


def _request(settings: Settings, text: str) -> dict[str, Any]:
    return {
        "model": settings.openai_model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": prompt(settings.analysis_prompt_version)},
            {"role": "user", "content": f"Расшифровка разговора:\n\n{text}"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": ANSWER_SCHEMA},
        },
    }


def _retry_after(exc: Exception) -> float:
    """The server's Retry-After in seconds (capped), or 0 when it sent none."""
    response = getattr(exc, "response", None)
    try:
        return min(float(response.headers.get("retry-after", 0)), MAX_RETRY_AFTER_SEC)
    except (AttributeError, TypeError, ValueError):
        return 0.0


def analyze(text: str, settings: Settings) -> Analysis:
    """Ask the LLM about a transcript (masked here before it leaves)."""
    masked = mask(text)
    client = _client(
        settings.require("openai_api_key"), settings.openai_base_url, settings.openai_timeout_sec
    )
    request = _request(settings, masked.text)
    tokens = [0, 0]  # every attempt is paid for, so all of them are counted
    problem = ""
    wait = 0.0
    for attempt in range(1, settings.openai_max_attempts + 1):
        if attempt > 1:
            time.sleep(max(wait, settings.openai_backoff_sec * 2 ** (attempt - 2)))
        wait = 0.0
        try:
            response = client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403, 404):  # every dialogue would fail the same way
                raise ConfigError(
                    f"the LLM server answered {exc.status_code} ({exc}): check OPENAI_API_KEY, "
                    "OPENAI_MODEL and OPENAI_BASE_URL"
                ) from None
            if not isinstance(exc, _TRANSIENT) and exc.status_code not in (408, 409):
                # 400/422: this request will be refused again
                raise AnalysisFailed(f"LLM refused the request: {exc.status_code} {exc}") from None
            problem, wait = f"{type(exc).__name__}: {exc}", _retry_after(exc)
            log.warning("llm request failed, attempt %d: %s", attempt, problem)
            continue
        except _TRANSIENT as exc:  # timeouts and connection errors
            problem = f"{type(exc).__name__}: {exc}"
            log.warning("llm request failed, attempt %d: %s", attempt, problem)
            continue
        if response.usage:
            tokens[0] += response.usage.prompt_tokens
            tokens[1] += response.usage.completion_tokens
        try:
            content = response.choices[0].message.content
            if not content:
                raise MalformedAnswer("empty answer")
            try:
                data = json.loads(content)
            except json.JSONDecodeError as exc:
                raise MalformedAnswer(f"answer is not JSON ({exc})") from None
            return parse_answer(
                data,
                analyzer=ANALYZER,
                model=response.model or settings.openai_model,
                prompt_version=settings.analysis_prompt_version,
                prompt_tokens=tokens[0],
                completion_tokens=tokens[1],
                cost_usd=cost_usd(settings, *tokens),
                extra={"pii_masked": masked.counts, "attempts": attempt},
            )
        except (MalformedAnswer, IndexError, AttributeError) as exc:
            problem = f"malformed answer: {exc}"
            log.warning("llm answer rejected, attempt %d: %s", attempt, problem)
            continue
    attempts = settings.openai_max_attempts
    if problem.startswith("malformed"):
        raise AnalysisFailed(f"{problem} (after {attempts} attempts)")
    raise TransientError(f"LLM unavailable after {attempts} attempts: {problem}")
