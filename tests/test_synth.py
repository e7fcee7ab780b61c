"""The test-speech generator makes real, distinct Russian audio."""

from __future__ import annotations

import numpy as np
import pytest

from devkit import synth


def test_speech_is_audible_and_pitch_shift_changes_it() -> None:
    a = synth.speak("Добрый день! Пакет нужен?")
    b = synth.speak("Добрый день! Пакет нужен?", pitch_cents=400)
    assert 1.0 < len(a) / synth.RATE < 5.0
    assert np.sqrt(np.mean(a**2)) > 0.01
    assert not np.allclose(a[: len(b)], b[: len(a)])


def test_noise_level_is_as_asked() -> None:
    noise = synth.shop_noise(10, level_db=-30, seed=1)
    rms_db = 20 * np.log10(np.sqrt(np.mean(noise**2)))
    assert abs(rms_db + 30) < 0.5
    assert np.array_equal(noise, synth.shop_noise(10, level_db=-30, seed=1))


@pytest.mark.parametrize(
    "line",
    [
        # festival wrote a wav sox could not read for "Ну раз тёплые — один" (sealed set)
        "Ну раз тёплые — один, с миндалём.",
        # ... and for a line with guillemets (a line of the cellar set, other words here)
        "А это что за «набор туриста»?",
    ],
)
def test_a_line_with_a_dash_or_quotes_is_spoken(line: str) -> None:
    audio = synth.speak(line)
    assert len(audio) > synth.RATE and float(np.abs(audio).max()) > 0.05
