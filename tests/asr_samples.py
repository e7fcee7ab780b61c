"""Russian shop dialogues synthesised with festival: the ASR tests' and benchmark's audio."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from devkit import synth

# (speaker pitch in cents, phrase): the seller at the voice's pitch, the customer lower.
DIALOGUE: list[tuple[int, str]] = [
    (0, "Здравствуйте, что вам подсказать?"),
    (-300, "Добрый день, мне нужен хлеб и молоко."),
    (0, "Возьмите ещё свежий творог, сегодня привезли."),
    (-300, "Нет, спасибо, творог не нужен."),
    (0, "К кофе есть пирожные со скидкой двадцать процентов."),
    (-300, "Хорошо, давайте два пирожных."),
    (0, "Пакет нужен? С вас триста сорок рублей."),
    (-300, "Пакет не нужен, оплачу картой."),
]
SHORT: list[tuple[int, str]] = DIALOGUE[:2]
# A second dialogue for the benchmark: other words, more noise in the mix it is used with.
DIALOGUE_2: list[tuple[int, str]] = [
    (-300, "Подскажите, где у вас стиральный порошок?"),
    (0, "Во втором ряду справа, рядом с мылом."),
    (-300, "А есть что-нибудь для детского белья?"),
    (0, "Есть гипоаллергенный гель, он сейчас по акции."),
    (-300, "Отлично, возьму гель и губки для посуды."),
    (0, "Хотите оформить карту магазина? Будут бонусы с каждой покупки."),
]
DIALOGUE_3: list[tuple[int, str]] = [
    (0, "Добрый вечер, вам помочь выбрать?"),
    (-300, "Да, ищу подарок жене, что-нибудь недорогое."),
    (0, "Посмотрите наборы чая, они красиво упакованы."),
    (-300, "Сколько стоит вот этот, в синей коробке?"),
    (0, "Пятьсот рублей, а к нему могу предложить шоколад."),
    (-300, "Давайте, и упакуйте, пожалуйста, вместе."),
]


def script(lines: list[tuple[int, str]]) -> str:
    """The reference text of a dialogue."""
    return " ".join(text for _, text in lines)


def dialogue_audio(
    lines: list[tuple[int, str]], pause_sec: float = 0.6, noise_db: float | None = -45.0
) -> np.ndarray:
    """The dialogue as 16 kHz mono float32, with pauses and (optionally) shop noise."""
    parts = [synth.silence(0.3)]
    for pitch, text in lines:
        parts += [synth.speak(text, pitch_cents=pitch), synth.silence(pause_sec)]
    audio = np.concatenate(parts)
    if noise_db is None:
        return audio
    return synth.mix(audio, synth.shop_noise(len(audio) / synth.RATE, level_db=noise_db, seed=7))


def opus_bytes(audio: np.ndarray) -> bytes:
    """Audio as an ogg/opus file's bytes, the format of dialogue objects."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, synth.RATE, format="OGG", subtype="OPUS")
    return buffer.getvalue()
