"""The real Whisper base model on festival Russian, and the guards around it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jiwer import wer

from asr_service import models
from asr_service.engine import Engine, decode
from devkit import asr_clips, synth
from devkit.evaluation import cer, normalise
from salescontrol import config
from salescontrol.errors import BadInput, ConfigError
from tests.asr_samples import DIALOGUE, SHORT, dialogue_audio, script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def asr_engine() -> Engine:
    """The default engine (offline base model, CPU, int8), loaded once per test session."""
    return Engine(config.load({}))


def _phrase_spans(
    lines: list[tuple[int, str]], pause_sec: float = 0.6
) -> list[tuple[float, float]]:
    """Where each line is in dialogue_audio(lines), in seconds."""
    spans, t = [], 0.3
    for pitch, text in lines:
        length = len(synth.speak(text, pitch_cents=pitch)) / synth.RATE
        spans.append((t, t + length))
        t += length + pause_sec
    return spans


def _on_speech(t: float, spans: list[tuple[float, float]], slack: float) -> bool:
    return any(a - slack <= t <= b + slack for a, b in spans)


def test_dialogue_is_transcribed_close_to_the_script(asr_engine: Engine) -> None:
    audio = dialogue_audio(DIALOGUE)
    transcript, tier = asr_engine.run(audio)
    assert cer(script(DIALOGUE), transcript.text) <= 0.15, transcript.text
    assert tier == "fast" and transcript.language == "ru"
    starts = [s["start"] for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments[-1]["end"] <= transcript.audio_sec + 0.5
    # The pauses were cut out before decoding; times are back on the dialogue's time line.
    spans = _phrase_spans(DIALOGUE)
    assert all(_on_speech(s["start"], spans, 0.5) for s in transcript.segments)
    assert transcript.segments[-1]["end"] >= spans[-1][1] - 1.0
    # ASR_WORD_TIMESTAMPS is on by default: the roles split segments at speaker changes with them.
    assert all("words" in s for s in transcript.segments)


def test_word_timestamps_are_on_the_dialogue_time_line(asr_engine: Engine) -> None:
    transcript, _ = asr_engine.run(dialogue_audio(DIALOGUE))
    words = [w for s in transcript.segments for w in s["words"]]
    assert len(words) >= len(script(DIALOGUE).split()) * 0.8
    assert all(w["start"] <= w["end"] for w in words)
    spans = _phrase_spans(DIALOGUE)
    assert all(_on_speech((w["start"] + w["end"]) / 2, spans, 0.3) for w in words), words


def test_word_times_are_the_same_beside_a_window_with_no_text(asr_engine: Engine) -> None:
    """A batch where one window has no text aligns the others on their rows of the
    batch's encoder output: the same word times as with the window alone."""
    from asr_service.transcribe import Decoder

    speech = dialogue_audio(SHORT)
    noise = synth.shop_noise(len(speech) / synth.RATE, level_db=-45.0, seed=3)
    decoder = Decoder(asr_engine.fast, "ru")
    words = []
    for audios in ([speech], [noise, speech]):
        encoded = decoder.encode(audios, trim=False)
        decoded = decoder.generate(encoded, len(audios), 5, 0.0, len(speech) / synth.RATE)
        segs = [
            decoder.segments(d.tokens, len(a) / synth.RATE)
            for d, a in zip(decoded, audios, strict=True)
        ]
        if len(audios) == 2:
            segs[0] = []  # the noise window's text, if any, is what the guards drop
        decoder.add_words(audios, segs, encoded, trim=False)
        words.append([(w["word"], w["start"], w["end"]) for s in segs[-1] for w in s["words"]])
    assert words[0] and words[0] == words[1]


def test_word_timestamps_can_be_turned_off() -> None:
    engine = Engine(config.load({"ASR_WORD_TIMESTAMPS": "false"}))
    transcript, _ = engine.run(dialogue_audio(DIALOGUE))
    assert transcript.text and all("words" not in s for s in transcript.segments)


def test_shop_noise_without_speech_gives_no_text(asr_engine: Engine) -> None:
    noise = synth.shop_noise(20.0, level_db=-45.0, seed=3)
    transcript, _ = asr_engine.run(noise)
    assert transcript.text == ""


SPEECH = Path(__file__).resolve().parent / "test_data" / "speech"
TEXTS = json.loads((SPEECH / "texts.json").read_text(encoding="utf-8"))
MENUS = ["ivr-basic-pbx-ivr-main.ogg", "ivr-conf-adminmenu-162.ogg"]


def _words(text: str) -> int:
    return len(normalise(text).split())


@pytest.mark.parametrize("name", MENUS)
def test_real_enumerated_menus_keep_their_text(asr_engine: Engine, name: str) -> None:
    """A person reading a 26 s IVR menu: the old window-wide ratio guard dropped all of
    conf-adminmenu-162 (every segment carried the window's ratio 2.43)."""
    transcript, _ = asr_engine.run(decode(SPEECH / name, name))
    reference = TEXTS[name]
    assert transcript.dropped == []
    assert _words(transcript.text) >= 0.9 * _words(reference), transcript.text
    assert wer(normalise(reference), normalise(transcript.text)) <= 0.25, transcript.text


def test_a_window_whisper_would_fall_back_on_is_decoded_again(asr_engine: Engine) -> None:
    name = "ivr-conf-adminmenu-162.ogg"
    transcript, _ = asr_engine.run(decode(SPEECH / name, name))
    assert transcript.options["redecoded"] >= 1
    assert cer(TEXTS[name], transcript.text) <= 0.1, transcript.text


def test_a_window_that_loops_is_decoded_again_without_the_loop(asr_engine: Engine) -> None:
    """A rush-hour dialogue (dev seed 11, radio under a far customer): beam search loops on
    one invented word to the token cap from the window's start, and sampling at 0.2 looped
    too, so all but that word was dropped as a loop (CER 0.94). Beam search that may not
    repeat 5 tokens decodes the dialogue (CER about 0.2; the plain call 0.41). (On an AMD
    EPYC a second window is sometimes decoded again too: CTranslate2's CPU kernels are not
    bit-for-bit repeatable there.)"""
    name = "rushhour-11-05.ogg"
    transcript, _ = asr_engine.run(decode(SPEECH / name, name))
    assert transcript.options["redecoded"] >= 1
    assert cer(TEXTS[name], transcript.text) <= 0.35, transcript.text
    # the decode reaches the dialogue's end (the exact words in its middle move on AMD)
    assert "до свидания" in normalise(transcript.text), transcript.text


def test_a_window_that_loops_from_its_first_piece_is_decoded_piece_by_piece(
    asr_engine: Engine,
) -> None:
    """A rush-hour dialogue (sealed seed 62, a radio under a far customer): on an Intel
    Xeon every decode of its one window loops on "сиди, сиди, …" from the first piece, so
    only two words were left (the plain call kept about half). Each piece decoded alone
    gives back the seller's and the customer's lines; what the looping decode kept is
    dropped with its reason. CTranslate2's int8 kernels differ between CPUs: on an AMD
    EPYC the window does not loop at all (its first lines are lost without a loop), and
    the piece-by-piece path is not reached there."""
    name = "rushhour-62-00.ogg"
    transcript, _ = asr_engine.run(decode(SPEECH / name, name))
    said = normalise(transcript.text)
    assert "не за что" in said and "сиди" not in said, said
    why = {d["why"] for d in transcript.dropped}
    if "repetition_loop" not in why:
        pytest.skip(f"the window does not loop on this CPU's int8 kernels: {said}")
    assert why >= {"repetition_loop", "decoded_again_piece_by_piece"}, why
    assert "гляну" in said, said
    assert transcript.options["windows"] > 1


def test_shop_talk_that_repeats_itself_keeps_every_item(asr_engine: Engine) -> None:
    said = [
        (0, "Мне два батона, два кефира, два молока и два йогурта."),
        (-300, "Два батона, два кефира, два молока, два йогурта. Пакет нужен?"),
        (0, "Да, два пакета. Нет, нет, нет, карты нет."),
    ]
    transcript, _ = asr_engine.run(dialogue_audio(said))
    assert transcript.dropped == []
    assert normalise(transcript.text).count("два") >= 9, transcript.text
    assert cer(script(said), transcript.text) <= 0.15, transcript.text


def test_speech_near_the_end_of_a_full_window_is_not_lost(
    asr_engine: Engine, tmp_path: Path
) -> None:
    """Whisper leaves the speech at a full window's end for the next window; packed
    windows hold other audio, so that rest is decoded again. Without it, in this real
    two-speaker clip (51 s, 2 windows) half a sentence and the last prompt went missing
    (coverage 0.47 and 0.0; with it 0.71 and 0.6)."""
    clip = asr_clips.studio_dialogues("test")[15]
    path = synth.write(tmp_path / "clip.ogg", clip.audio)  # as a dialogue object: opus
    transcript, _ = asr_engine.run(decode(path, path.name))
    heard = set(normalise(transcript.text).split())
    for line in clip.lines:
        words = normalise(line).split()
        if len(words) >= 5:  # a two-word prompt ("Быстрый набор.") is still lost: see README
            assert sum(w in heard for w in words) >= 0.5 * len(words), (line, transcript.text)
    # The rest of the telescope sentence, decoded with another window's tail, comes after
    # its beginning (it had been put 11 s early, before the sentence began).
    said = normalise(transcript.text)
    assert "шарик" in said and said.index("телескопа") < said.index("шарик"), said


def test_real_read_speech_of_another_speaker(asr_engine: Engine) -> None:
    name = "festvox-ru_0003.ogg"
    transcript, _ = asr_engine.run(decode(SPEECH / name, name))
    assert cer(TEXTS[name], transcript.text) <= 0.2, transcript.text


def test_the_accurate_tier_runs_on_a_second_model_directory(tmp_path: Path) -> None:
    """The base model under another name stands in for a larger one: the mechanics of
    the accurate tier and of the low-confidence second pass."""
    settings = config.load({})
    base = models.default_model_dir(Path(settings.whisper_cache_dir))
    second = tmp_path / "whisper-accurate"
    second.mkdir()
    for f in base.iterdir():
        (second / f.name).symlink_to(f)
    audio = dialogue_audio(SHORT)
    engine = Engine(config.load({"WHISPER_MODEL_ACCURATE": str(second)}))
    assert engine.has_second_pass and engine.accurate is not engine.fast
    transcript, tier = engine.run(audio, tier="accurate")
    assert tier == "accurate" and transcript.model == str(second)
    assert cer(script(SHORT), transcript.text) <= 0.15
    transcript, tier = engine.run(audio)
    assert tier == "fast" and transcript.model == "base"  # confident: no second pass
    unsure = Engine(
        config.load({"WHISPER_MODEL_ACCURATE": str(second), "ASR_LOW_CONFIDENCE_LOGPROB": "0"})
    )
    transcript, tier = unsure.run(audio)
    assert tier == "accurate" and transcript.model == str(second)
    assert cer(script(SHORT), transcript.text) <= 0.15


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
