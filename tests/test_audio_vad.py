"""Decoding, speech detection and assembly on synthetic shop audio (no I/O)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from devkit import scene
from salescontrol import assembly, audio, vad
from salescontrol.config import load
from salescontrol.errors import ConfigError


@pytest.fixture(scope="module")
def shop_10min() -> scene.Scene:
    return scene.shop_recording(600.0, noise_db=-35.0, seed=0)


def test_stereo_44k_wav_is_converted_to_16k_mono() -> None:
    t = np.arange(44100 * 2) / 44100
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    buf = io.BytesIO()
    sf.write(buf, np.stack([left, left], axis=1), 44100, format="WAV")
    out = audio.decode(buf.getvalue())
    assert len(out) == 32000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 16000 / len(out) - 440) < 2


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "empty object"),
        (b"PK\x03\x04 a zip file, not audio", "not audio"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "corrupt wav"),
    ],
)
def test_undecodable_bytes_say_why(data: bytes, error: str) -> None:
    with pytest.raises(audio.DecodeError, match=error):
        audio.decode(data)


def test_truncated_ogg_is_refused() -> None:
    data = audio.encode_opus(np.zeros(16000 * 3, dtype=np.float32))
    assert len(audio.decode(data)) == 48000
    with pytest.raises(audio.DecodeError, match="truncated ogg"):
        audio.decode(data[: len(data) * 2 // 3])


def test_default_engine_finds_dialogues_in_a_noisy_10_minute_recording(
    shop_10min: scene.Scene,
) -> None:
    """Acceptance: dialogue precision and recall ≥ 0.95 at IoU ≥ 0.5, bounds within 1 s."""
    settings = load({})
    spans = scene.offline_dialogues(
        shop_10min.audio, vad.VadOptions.from_settings(settings), assembly.params(settings)
    )
    found = [(s.start_ms / 1000, s.end_ms / 1000) for s in spans if not s.blip]
    precision, recall = scene.precision_recall(shop_10min.dialogues, found)
    assert len(shop_10min.dialogues) >= 8
    assert precision >= 0.95 and recall >= 0.95
    for truth in shop_10min.dialogues:
        best = max(found, key=lambda f: scene.iou(truth, f))
        assert abs(best[0] - truth[0]) <= 1.0 and abs(best[1] - truth[1]) <= 1.0


def test_webrtc_takes_steady_shop_noise_for_speech(shop_10min: scene.Scene) -> None:
    noise = shop_10min.audio[: 16000 * 4]  # the lead-in: noise only
    webrtc = vad.speech_segments(noise, vad.VadOptions(engine="webrtc", aggressiveness=2))
    silero = vad.speech_segments(noise, vad.VadOptions(engine="silero"))
    assert silero == []
    assert sum(b - a for a, b in webrtc) > 500


def test_vad_settings_are_checked_with_their_names() -> None:
    assert vad.VadOptions.from_settings(load({"VAD_ENGINE": "webrtc"})).engine == "webrtc"
    with pytest.raises(ConfigError, match="VAD_ENGINE='rnnoise'"):
        vad.VadOptions.from_settings(load({"VAD_ENGINE": "rnnoise"}))
    with pytest.raises(ConfigError, match="VAD_AGGRESSIVENESS=5"):
        vad.VadOptions.from_settings(load({"VAD_AGGRESSIVENESS": "5"}))


def test_hangover_bridges_a_breath_but_not_a_real_pause() -> None:
    options = vad.VadOptions(hangover_ms=400, min_speech_ms=200)
    frame = 480  # 30 ms
    flags = np.zeros(200, dtype=bool)
    flags[10:40] = True  # 0.9 s of speech
    flags[45:80] = True  # after a 150 ms breath
    flags[120:125] = True  # 150 ms click: too short to be speech
    flags[150:190] = True  # after 2 s of silence
    assert vad.smooth(flags, frame, options) == [(300, 2400), (4500, 5700)]
