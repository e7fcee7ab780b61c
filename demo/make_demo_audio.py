"""Write the bundled demo recording: a morning at a bakery-café counter, with its truth.

    python demo/make_demo_audio.py [--out demo/shop_morning.ogg] [--truth-only]

Nine dialogues in about seven minutes of shop noise: seven sales (three upsells accepted,
two refused, two with only service questions such as a bag or a receipt), a staff talk and
a delivery. The seller is festival's Russian voice; customers and staff are the same voice
pitch-shifted (devkit/synth.py). Gaps between dialogues (20–30 s) are well over
SILENCE_GAP_SEC (12 s); pauses inside one (0.4–1.2 s) well under it. The truth JSON is the
format `python -m salescontrol eval` reads: each dialogue's first and last speech second,
its text, whether an upsell was attempted and accepted, and its kind; and the receipt of
each sale, printed PRINT_SEC after the customer's payment line (while the seller says
goodbye), with its items in kopecks and its dialogue. `--truth-only` rewrites the truth
and keeps the recording (the receipts came after it; the speech is the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root

from devkit import synth
from recorder.writer import encoder  # the recorder's own opus settings

HERE = Path(__file__).resolve().parent
BITRATE = 24000
SEED = 2026
LEAD_SEC = 6.0  # shop noise before the first dialogue
TAIL_SEC = 30.0  # after the last one: the silence that closes it must be recorded
GAP_SEC = (20.0, 30.0)
PAUSE_SEC = (0.4, 1.2)
NOISE_DB = -38.0
PRINT_SEC = 2.0  # from the end of the customer's payment line to the printed receipt

# Voices: pitch shift in cents of festival's msu_ru_nsh voice, and loudness at the mic.
SELLER = (0, 1.0)
COLLEAGUE = (450, 0.8)
COURIER = (-250, 0.8)
CUSTOMERS = [(350, 0.75), (-200, 0.8), (500, 0.7), (200, 0.8), (-150, 0.75), (400, 0.7)]


@dataclass(frozen=True)
class Scene:
    kind: str  # "sale" | "other"
    upsell_attempted: bool
    accepted: bool | None
    lines: tuple[tuple[tuple[int, float], str], ...]  # (voice, text)
    receipt: tuple[tuple[str, int, int], ...] = ()  # (name, price in kopecks, quantity)
    paid: int = 4  # the customer's payment line; the receipt prints PRINT_SEC after it


def _sale(
    customer: int,
    attempted: bool,
    accepted: bool | None,
    *lines: str,
    receipt: tuple[tuple[str, int, int], ...],
    paid: int = 4,
) -> Scene:
    """A sale: lines alternate customer / seller, the customer speaks first."""
    voices = [CUSTOMERS[customer], SELLER]
    said = tuple((voices[i % 2], text) for i, text in enumerate(lines))
    return Scene("sale", attempted, accepted, said, receipt, paid)


def _other(other: tuple[int, float], *lines: str) -> Scene:
    """Talk that is no sale: lines alternate the other person / the seller."""
    voices = [other, SELLER]
    return Scene("other", False, None, tuple((voices[i % 2], t) for i, t in enumerate(lines)))


SCENES = [
    _sale(
        0,
        True,
        True,
        "Здравствуйте. Мне капучино, пожалуйста.",
        "Доброе утро. Может быть, возьмёте круассан к кофе? Они только из печи.",
        "Да, давайте один.",
        "С вас двести двадцать рублей.",
        "Картой можно?",
        "Да, прикладывайте. Спасибо, хорошего дня!",
        receipt=(("Капучино 0,3 л", 15000, 1), ("Круассан классический", 7000, 1)),
    ),
    _sale(
        1,
        False,
        None,
        "Добрый день. Дайте, пожалуйста, батон и молоко.",
        "Батон и молоко. Пакет нужен?",
        "Нет, спасибо, у меня сумка.",
        "С вас сто пятнадцать рублей.",
        "Вот, без сдачи.",
        "Спасибо, до свидания.",
        receipt=(("Батон нарезной", 5000, 1), ("Молоко 3,2% 1 л", 6500, 1)),
    ),
    _other(
        COLLEAGUE,
        "Дима, привет. Машина с выпечкой сегодня опоздает на полчаса.",
        "Опять? Тогда переставь сыр на верхнюю полку, пока витрина пустая.",
        "Хорошо. И холодильник у входа снова шумит, я позвонила мастеру.",
        "Правильно. Он сказал, когда приедет?",
        "После обеда. Я запишу в журнал.",
        "Спасибо. Я потом сам проверю температуру.",
    ),
    _sale(
        2,
        True,
        False,
        "Здравствуйте. Чёрный чай, большой.",
        "Сейчас сделаю. Рекомендую к чаю наше овсяное печенье, оно очень свежее.",
        "Нет, спасибо, не надо.",
        "Хорошо. С вас сто сорок рублей.",
        "Вот, пожалуйста.",
        "Спасибо, ваш чай.",
        receipt=(("Чай чёрный большой", 14000, 1),),
    ),
    _sale(
        3,
        True,
        True,
        "Доброе утро. Латте, пожалуйста.",
        "Хотите большой стакан? Он всего на тридцать рублей дороже.",
        "Да, давайте большой.",
        "Отлично. С вас двести десять рублей.",
        "Оплачу телефоном.",
        "Прикладывайте. Готово, спасибо!",
        receipt=(("Латте большой 0,4 л", 21000, 1),),
    ),
    _other(
        COURIER,
        "Доброе утро, доставка выпечки. Куда ставить ящики?",
        "Доброе утро. Несите на склад, направо за дверью.",
        "Здесь шесть ящиков, распишитесь в накладной.",
        "Сейчас пересчитаю. Всё верно, вот подпись.",
        "Спасибо, до завтра.",
    ),
    _sale(
        4,
        False,
        None,
        "Здравствуйте. Бутылку воды и шоколадку.",
        "Пожалуйста. Сто двадцать рублей.",
        "Картой.",
        "Прикладывайте. Чек нужен?",
        "Нет, не нужен. Спасибо.",
        "Всего доброго.",
        receipt=(("Вода питьевая 0,5 л", 6000, 1), ("Шоколад молочный", 6000, 1)),
        paid=2,
    ),
    _sale(
        5,
        True,
        False,
        "Добрый день. Мне вот этот медовый торт.",
        "Хороший выбор. Может быть, ещё свечи к торту? У нас есть цветные.",
        "Нет, спасибо, у меня есть.",
        "Понял. С вас шестьсот пятьдесят рублей.",
        "Держите.",
        "Спасибо, приходите ещё.",
        receipt=(("Торт медовый", 65000, 1),),
    ),
    _sale(
        0,
        True,
        True,
        "Здравствуйте. Один круассан с миндалём.",
        "Пожалуйста. Не хотите взять второй? Сегодня второй круассан за полцены.",
        "Правда? Тогда давайте два.",
        "Хорошо, два круассана. С вас сто восемьдесят рублей.",
        "Спасибо.",
        "Вам спасибо, хорошего дня.",
        receipt=(
            ("Круассан с миндалём", 12000, 1),
            ("Круассан с миндалём (акция: второй за полцены)", 6000, 1),
        ),
    ),
]


def _trim(audio: np.ndarray) -> np.ndarray:
    """Cut festival's leading and trailing silence, so truth times are speech times."""
    loud = np.flatnonzero(np.abs(audio) > 0.02 * (np.max(np.abs(audio)) or 1.0))
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def build() -> tuple[np.ndarray, dict]:
    """The recording (float32, 16 kHz) and its truth document."""
    rng = np.random.default_rng(SEED)
    placed: list[tuple[float, np.ndarray]] = []
    truth: list[dict] = []
    receipts: list[dict] = []
    t = LEAD_SEC
    for n, scene in enumerate(SCENES):
        if n:
            t += rng.uniform(*GAP_SEC)
        start = t
        for i, ((pitch, gain), text) in enumerate(scene.lines):
            if i:
                t += rng.uniform(*PAUSE_SEC)
            speech = _trim(synth.speak(text, pitch_cents=pitch)) * gain
            placed.append((t, speech))
            t += len(speech) / synth.RATE
            if scene.receipt and i == scene.paid:
                receipts.append(_receipt(scene, t + PRINT_SEC, n))
        truth.append(
            {
                "start": round(start, 2),
                "end": round(t, 2),
                "text": " ".join(text for _, text in scene.lines),
                "upsell_attempted": scene.upsell_attempted,
                "accepted": scene.accepted,
                "kind": scene.kind,
            }
        )
    duration = t + TAIL_SEC
    audio = synth.shop_noise(duration, level_db=NOISE_DB, seed=SEED)
    for at, speech in placed:
        i = round(at * synth.RATE)
        audio[i : i + len(speech)] += speech
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    return audio, {"duration": round(duration, 2), "dialogues": truth, "receipts": receipts}


def _receipt(scene: Scene, at: float, dialogue: int) -> dict:
    items = [
        {"name": name, "price": price, "quantity": quantity, "sum": price * quantity}
        for name, price, quantity in scene.receipt
    ]
    total = sum(item["sum"] for item in items)
    return {"at": round(at, 2), "items": items, "total": total, "dialogue": dialogue}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "shop_morning.ogg")
    parser.add_argument("--truth-only", action="store_true", help="keep the recording")
    args = parser.parse_args()
    audio, truth = build()
    if not args.truth_only:
        with encoder(args.out, synth.RATE, BITRATE) as file:
            file.write(audio)
        size = args.out.stat().st_size
        print(f"wrote {args.out} ({truth['duration'] / 60:.1f} min, {size / 1024:.0f} KiB)")
    truth_path = args.out.with_suffix(".truth.json")
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"wrote {truth_path} ({len(truth['dialogues'])} dialogues, "
        f"{len(truth['receipts'])} receipts)"
    )


if __name__ == "__main__":
    main()
