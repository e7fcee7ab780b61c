"""The real Whisper base model on festival Russian, and the guards around it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faster_whisper.transcribe import Segment

from asr_service import models
from asr_service.engine import Engine, decode
from asr_service.transcribe import Options, filter_segments
from devkit import synth
from devkit.evaluation import cer
from salescontrol import config
from salescontrol.errors import BadInput, ConfigError
from tests.asr_samples import DIALOGUE, SHORT, dialogue_audio, script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def asr_engine() -> Engine:
    """The default engine (offline base model, CPU, int8), loaded once per test session."""
    return Engine(config.load({}))


def test_dialogue_is_transcribed_close_to_the_script(asr_engine: Engine) -> None:
    audio = dialogue_audio(DIALOGUE)
    transcript, tier = asr_engine.run(audio)
    assert cer(script(DIALOGUE), transcript.text) <= 0.15, transcript.text
    assert tier == "fast" and transcript.language == "ru"
    starts = [s["start"] for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments[-1]["end"] <= transcript.audio_sec + 0.5
    words = [w for s in transcript.segments for w in s["words"]]
    assert len(words) >= len(script(DIALOGUE).split()) * 0.8
    assert all(w["start"] <= w["end"] for w in words)


def test_shop_noise_without_speech_gives_no_text(asr_engine: Engine) -> None:
    noise = synth.shop_noise(20.0, level_db=-45.0, seed=3)
    transcript, _ = asr_engine.run(noise)
    assert transcript.text == ""


def _segment(text: str, start: float, no_speech: float = 0.01, ratio: float = 1.2) -> Segment:
    return Segment(
        id=0, seek=0, start=start, end=start + 2, text=text, tokens=[1, 2, 3],
        avg_logprob=-0.3, compression_ratio=ratio, no_speech_prob=no_speech, words=None,
        temperature=0.0,
    )  # fmt: skip


def test_hallucinations_are_dropped_and_speech_kept() -> None:
    options = Options.from_settings(config.load({}))
    segments = [
        _segment(" Добрый день, мне нужен хлеб.", 0),
        _segment(" Добрый день, мне нужен хлеб.", 2),  # a decoding loop repeating itself
        _segment(" Продолжение следует...", 4),
        _segment(" Субтитры сделал DimaTorzok", 6),
        _segment(" и и и и и и и и и и и и и и и и", 8, ratio=4.1),
        _segment(" Спасибо.", 10, no_speech=0.9),
        _segment(" Продолжение следует завтра, приходите за свежим хлебом к восьми утра.", 12),
    ]
    kept, dropped = filter_segments(segments, options)
    assert [s.start for s in kept] == [0, 12]
    assert [d["why"] for d in dropped] == [
        "repeated_segment",
        "phantom_line",
        "phantom_line",
        "repetition",
        "no_speech",
    ]


def test_undecodable_audio_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS" + os.urandom(2000))
    with pytest.raises(BadInput, match=r"bad\.ogg: truncated (or corrupt )?ogg"):
        decode(bad, "bad.ogg")


def test_default_model_is_assembled_once_and_verified(tmp_path: Path) -> None:
    first = models.default_model_dir(tmp_path)
    assert (first / "model.bin").stat().st_size == 2 * 72608766
    assert {p.name for p in first.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
    assert models.default_model_dir(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_a_missing_model_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        models.resolve(str(tmp_path / "nowhere"), tmp_path)
    with pytest.raises(ConfigError, match=r"cannot load Whisper model 'large-v3' .* offline"):
        models.load("large-v3", "cpu", "int8", 1, str(tmp_path))


def test_cli_transcribe_prints_json_for_each_file(tmp_path: Path) -> None:
    speech = synth.write(tmp_path / "speech.ogg", dialogue_audio(SHORT))
    noise = synth.write(tmp_path / "noise.ogg", synth.shop_noise(5.0, level_db=-45.0))
    result = subprocess.run(
        [sys.executable, "-m", "salescontrol", "transcribe", str(speech), str(noise), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)
    assert first["file"] == str(speech) and cer(script(SHORT), first["text"]) <= 0.15
    assert abs(first["audio_s"] - len(dialogue_audio(SHORT)) / synth.RATE) < 0.1
    assert first["processing_s"] > 0
    assert second == {**second, "file": str(noise), "text": ""}
