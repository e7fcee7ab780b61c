"""Decoding, speech detection and assembly on synthetic shop audio (no I/O)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from devkit import scene
from devkit.soak import badaudio
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


# --- hostile audio: the header is read before decoding (issue 18) ---------------------


def _wav(rate: int, seconds: float, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros((int(rate * seconds), channels)), rate, format="WAV")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "announced", "error"),
    [
        (badaudio.wav_bytes(1, bytes(4000)), 16000, "sample rate 1 Hz is outside"),
        (_wav(44100, 2.0), 16000, "sample rate mismatch: wav header 44100, announced 16000"),
        (_wav(16000, 1.0, channels=3), 16000, "3 channels"),
        (_wav(16000, 30.0), 16000, "absurd duration: wav header 30.0 s"),
    ],
    ids=["bomb-1Hz", "rate-mismatch", "3-channels", "longer-than-announced"],
)
def test_device_audio_is_refused_by_its_header(data: bytes, announced: int, error: str) -> None:
    with pytest.raises(audio.DecodeError, match=error):
        audio.decode(data, announced, 12.0)
    assert len(audio.decode(_wav(16000, 10.0), 16000, 12.0)) == 160000  # as announced: fine


def test_decoding_stops_where_the_announcement_ends() -> None:
    """An ogg header may understate its frames: the blocks stop at the announced length."""
    stream = sf.SoundFile(io.BytesIO(audio.encode_opus(np.zeros(16000 * 30, np.float32))))
    with stream, pytest.raises(audio.DecodeError, match="goes on past"):
        audio._read_mono(stream, 16000 * 5)


def test_the_audio_bomb_takes_no_memory_to_refuse(tmp_path) -> None:
    """4,044 bytes claiming 4,000 s at 1 Hz: the old decoder resampled 64 M samples (about
    1-2 GB; the vad function has 1 GiB); with the announcement it is refused at once."""
    bomb = tmp_path / "bomb.wav"
    bomb.write_bytes(badaudio.wav_bytes(1, bytes(4000)))
    child = (
        "import sys\nfrom salescontrol import audio\n"
        "def hwm():\n    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024\n"
        "data = open(sys.argv[1], 'rb').read(); before = hwm()\n"
        "try:\n    audio.decode(data, 16000, 12.0); print('decoded')\n"
        "except audio.DecodeError as exc:\n    print(exc)\n"
        "print(hwm() - before)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", child, str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
    ).stdout.splitlines()
    assert "sample rate 1 Hz is outside" in out[0]
    assert float(out[1]) < 50, f"decoding the bomb took {out[1]} MB more"


def test_resampling_in_pieces_matches_one_fft() -> None:
    rng = np.random.default_rng(0)
    for rate in (48000, 44100, 8000):
        x = (0.05 * rng.standard_normal(int(95.3 * rate))).astype(np.float32)
        pieces, whole = audio.resample(x, rate), audio._fft_resample(x, rate, audio.RATE)
        assert len(pieces) == len(whole) == round(len(x) * audio.RATE / rate)
        # Away from the ends (where one FFT wraps around) they agree to 1e-3 of full scale.
        assert np.abs(pieces - whole)[audio.RATE : -audio.RATE].max() < 1e-3
