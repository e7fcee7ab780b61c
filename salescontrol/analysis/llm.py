"""The LLM analyzer: one chat completion whose answer is checked before it is believed.

What is sent: the prompt (`prompts/<ANALYSIS_PROMPT_VERSION>.md`) as the system message
and the masked transcript (see `pii`) as delimited data with speaker labels, with any
instruction addressed to a model cut out of it (`guard`). What comes back must fit the
schema, every field within its length cap, every `quote` a phrase of the transcript
(compared without case and punctuation), the fields consistent; else the answer is
rejected and asked again.

Request formats, for the OpenAI-compatible servers people run: strict `json_schema`
structured output first; a server that refuses it (llama-cpp-python's server answers
500 "Input should be 'text' or 'json_object'") gets `json_object` carrying the schema
(the extension llama-cpp-python turns into a grammar), then plain `json_object`, then
no format at all; below `json_schema` the prompt also shows the answer's shape, and the
JSON is parsed and validated on our side. The format a server accepted is remembered
per server and model for the life of the process (OPENAI_RESPONSE_FORMAT pins one). A
server that refuses every format, or the pinned one, is a ConfigError, not an outage.

Rate limits (429), server errors (5xx), timeouts and connection failures are retried
with exponential backoff (or the server's Retry-After, if longer), and so is a rejected
answer. When the attempts run out, a transient cause raises TransientError (redelivered
later) and a rejected answer raises AnalysisFailed (the dialogue is FAILED with why).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import openai

from salescontrol.analysis import guard
from salescontrol.analysis.pii import mask
from salescontrol.analysis.schema import (
    ANSWER_SCHEMA,
    SCHEMA_NAME,
    Analysis,
    MalformedAnswer,
    parse_answer,
)
from salescontrol.analysis.transcript import Turn
from salescontrol.config import Settings
from salescontrol.errors import ConfigError, SalesControlError, TransientError

log = logging.getLogger(__name__)

ANALYZER = "llm"
PROMPTS = Path(__file__).with_name("prompts")
MAX_RETRY_AFTER_SEC = 30.0  # keeps all attempts inside the subscription's ack deadline
MAX_ANSWER_TOKENS = 800  # the fields' length caps fit in about 650 tokens of Russian
FORMATS = ("json_schema", "json_object+schema", "json_object", "text")
# The answer's shape, for the prompt when the schema does not travel as json_schema.
SHAPE = (
    '{"is_sales_dialogue": true|false, "upsell_attempted": true|false, "offers": '
    '[{"product": "…", "quote": "…", "accepted": true|false|null}], "customer_accepted": '
    'true|false|null, "quality_score": 0-10, "summary": "…", "recommendation": "…"}'
)
_TRANSIENT = (
    openai.RateLimitError,
    openai.InternalServerError,
    openai.APITimeoutError,
    openai.APIConnectionError,
)
# How servers word a refused response_format (OpenAI, vLLM, llama.cpp, llama-cpp-python).
_FORMAT_REFUSED = re.compile(
    r"response_format|json_schema|json_object|Input should be 'text'|structured output",
    re.IGNORECASE,
)
# The format each server (base URL, model) accepted, for the life of the process.
_accepted: dict[tuple[str, str], str] = {}


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


def _system(settings: Settings, fmt: str) -> str:
    text = prompt(settings.analysis_prompt_version)
    if fmt == "json_schema":
        return text  # the schema travels in response_format
    return f"{text}\n\nОтвет — один JSON-объект ровно с этими ключами:\n{SHAPE}"


def _request(settings: Settings, transcript: str, fmt: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": settings.openai_model,
        "temperature": 0,
        "max_tokens": MAX_ANSWER_TOKENS,
        "messages": [
            {"role": "system", "content": _system(settings, fmt)},
            {"role": "user", "content": transcript},
        ],
    }
    if fmt == "json_schema":
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": ANSWER_SCHEMA},
        }
    elif fmt == "json_object+schema":
        request["response_format"] = {"type": "json_object", "schema": ANSWER_SCHEMA}
    elif fmt == "json_object":
        request["response_format"] = {"type": "json_object"}
    return request


def _retry_after(exc: Exception) -> float:
    """The server's Retry-After in seconds (capped), or 0 when it sent none."""
    response = getattr(exc, "response", None)
    try:
        return min(float(response.headers.get("retry-after", 0)), MAX_RETRY_AFTER_SEC)
    except (AttributeError, TypeError, ValueError):
        return 0.0


def _formats(settings: Settings) -> tuple[str, ...]:
    """The request formats to try, best first: the pinned one, or what the server took."""
    pinned = settings.openai_response_format
    if pinned != "auto":
        if pinned not in FORMATS:
            raise ConfigError(
                f"OPENAI_RESPONSE_FORMAT={pinned!r} is not one of auto, {', '.join(FORMATS)}"
            )
        return (pinned,)
    known = _accepted.get((settings.openai_base_url, settings.openai_model))
    return FORMATS[FORMATS.index(known) :] if known else FORMATS


def _json_in(content: str) -> Any:
    """The JSON object in an answer: all of it, or (plain text) its outermost {...}."""
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        start, end = content.find("{"), content.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(content[start : end + 1])
            except json.JSONDecodeError:
                pass
        raise MalformedAnswer(f"answer is not JSON ({exc})") from None


def _check_quotes(result: Analysis, transcript: str) -> None:
    """Every quote must be words of the transcript (case and punctuation aside)."""
    said = guard.plain(transcript)
    for offer in result.offers:
        quote = guard.plain(offer.quote)
        if not quote or quote not in said:
            raise MalformedAnswer(f"quote {offer.quote[:80]!r} is not in the transcript")


def analyze(text: str, settings: Settings, turns: list[Turn] | None = None) -> Analysis:
    """Ask the LLM about a transcript (masked and guarded here before it leaves)."""
    masked = mask(text)
    masked_turns = [Turn(t.role, mask(t.text).text) for t in turns] if turns else None
    data = guard.delimit(masked.text, masked_turns)
    client = _client(
        settings.require("openai_api_key"), settings.openai_base_url, settings.openai_timeout_sec
    )
    formats = list(_formats(settings))
    tokens = [0, 0]  # every attempt is paid for, so all of them are counted
    problem = ""
    wait = 0.0
    attempt = 0
    while attempt < settings.openai_max_attempts:
        attempt += 1
        if attempt > 1:
            time.sleep(max(wait, settings.openai_backoff_sec * 2 ** (attempt - 2)))
        wait = 0.0
        fmt = formats[0]
        try:
            response = client.chat.completions.create(**_request(settings, data.text, fmt))
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403, 404):  # every dialogue would fail the same way
                raise ConfigError(
                    f"the LLM server answered {exc.status_code} ({exc}): check OPENAI_API_KEY, "
                    "OPENAI_MODEL and OPENAI_BASE_URL"
                ) from None
            if exc.status_code in (400, 422, 500) and _FORMAT_REFUSED.search(str(exc)):
                formats.pop(0)
                if not formats:
                    raise ConfigError(_refused_message(settings, fmt, exc)) from None
                log.warning("the LLM server refuses %s (%s); trying %s", fmt, exc, formats[0])
                attempt -= 1  # a refused format is no attempt at this transcript
                continue
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
        _accepted[(settings.openai_base_url, settings.openai_model)] = fmt
        if response.usage:
            tokens[0] += response.usage.prompt_tokens
            tokens[1] += response.usage.completion_tokens
        try:
            content = response.choices[0].message.content
            if not content:
                raise MalformedAnswer("empty answer")
            result = parse_answer(
                _json_in(content),
                analyzer=ANALYZER,
                model=response.model or settings.openai_model,
                prompt_version=settings.analysis_prompt_version,
                prompt_tokens=tokens[0],
                completion_tokens=tokens[1],
                cost_usd=cost_usd(settings, *tokens),
                extra={
                    "pii_masked": masked.counts,
                    "instructions_removed": data.removed,
                    "attempts": attempt,
                    "response_format": fmt,
                },
            )
            _check_quotes(result, masked.text)
            return result
        except (MalformedAnswer, IndexError, AttributeError) as exc:
            problem = f"malformed answer: {exc}"
            log.warning("llm answer rejected, attempt %d: %s", attempt, problem)
            continue
    attempts = settings.openai_max_attempts
    if problem.startswith("malformed"):
        raise AnalysisFailed(f"{problem} (after {attempts} attempts)")
    raise TransientError(f"LLM unavailable after {attempts} attempts: {problem}")


def _refused_message(settings: Settings, fmt: str, exc: Exception) -> str:
    where = settings.openai_base_url or "OpenAI"
    if settings.openai_response_format != "auto":
        return (
            f"the LLM server at {where} refuses OPENAI_RESPONSE_FORMAT={fmt} ({exc}): "
            "set OPENAI_RESPONSE_FORMAT=auto or a format it accepts"
        )
    return (
        f"the LLM server at {where} refuses every request format we know "
        f"({', '.join(FORMATS)}); last answer: {exc}. Check OPENAI_BASE_URL and OPENAI_MODEL"
    )
