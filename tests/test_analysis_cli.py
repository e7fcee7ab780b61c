"""`python -m salescontrol analyze` as a user runs it, with the rules and with an LLM."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_server import FakeLLM

REPO = Path(__file__).resolve().parent.parent
UPSELL = "мне вот этот шампунь. к нему рекомендую бальзам этой же серии. давайте. с вас 640"


def run_analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "salescontrol", "analyze", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env or dict(os.environ),
        timeout=60,
    )


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "dialogue.txt"
    path.write_text(UPSELL, encoding="utf-8")
    return path


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM().start()
    yield server
    server.stop()


def test_rules_json_prints_the_result_object(transcript) -> None:
    result = run_analyze("--rules", "--json", str(transcript))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["upsell_attempted"] is True and answer["customer_accepted"] is True
    assert answer["analyzer"] == "rules" and answer["offers"][0]["product"].startswith("бальзам")


def test_plain_output_is_readable(transcript) -> None:
    result = run_analyze("--rules", str(transcript))
    assert result.returncode == 0, result.stderr
    assert "upsell attempted: да" in result.stdout and "quality score:" in result.stdout


def test_with_a_key_the_llm_is_asked_and_the_rules_flag_overrides(transcript, fake) -> None:
    fake.script = ["gullible"]  # an honest answer about this transcript
    env = {**os.environ, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.base_url}
    llm = json.loads(run_analyze("--json", str(transcript), env=env).stdout)
    assert llm["analyzer"] == "llm" and llm["prompt_tokens"] == 900
    assert len(fake.requests) == 1
    rules = json.loads(run_analyze("--rules", "--json", str(transcript), env=env).stdout)
    assert rules["analyzer"] == "rules" and len(fake.requests) == 1


def test_short_transcript_is_reported_as_skipped(tmp_path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("да спасибо", encoding="utf-8")
    result = run_analyze("--rules", "--json", str(path))
    assert result.returncode == 0
    assert "too short" in json.loads(result.stdout)["skipped"]


def test_llm_without_a_key_names_the_setting(transcript) -> None:
    env = {**os.environ, "ANALYZER": "llm"}
    env.pop("OPENAI_API_KEY", None)
    result = run_analyze(str(transcript), env=env)
    assert result.returncode == 2
    assert result.stderr.startswith("error: OPENAI_API_KEY is not set")
