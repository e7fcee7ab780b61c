"""The ASR guards, the fallback choice and the window packing, without the model."""

from __future__ import annotations

import numpy as np

from asr_service import guards, transcribe, windows
from asr_service.transcribe import (
    Decoded,
    Options,
    better,
    compression_ratio,
    looping,
    needs_fallback,
)
from salescontrol import config

OPTIONS = Options.from_settings(config.load({}))
MENU = (
    "Нажмите 1, чтобы включить или выключить свой микрофон, 2 - чтобы заблокировать или "
    "разблокировать конференцию, 3 - чтобы удалить из конференции последнего вошедшего, "
    "4 или 6 - для уменьшения или увеличения уровня громкости звука"
)
SHOP = "Мне два батона, два кефира, два молока, два йогурта и два пакета, пожалуйста."


def piece(text: str, start: float = 0.0, speech: float = 1.0, **kw: float) -> guards.Piece:
    return guards.Piece(
        start=start,
        end=start + 2,
        words=text.split(),
        avg_logprob=kw.get("avg_logprob", -0.3),
        no_speech_prob=kw.get("no_speech_prob", 0.05),
        speech=speech,
    )


def test_real_repetitive_speech_is_not_a_loop() -> None:
    for text in (MENU, SHOP, "Нет, нет, нет, не надо.", "Раз, два, раз, два, раз, два."):
        assert guards.loop_runs(text.split()) == [], text
        kept, dropped = guards.judge([piece(text)], OPTIONS)
        assert [p.text for p in kept] == [text] and dropped == []


def test_a_window_ratio_above_the_threshold_is_decoded_again_not_dropped() -> None:
    # The menu: the whole window compressed to 2.43, just over 2.4.
    menu = Decoded([], MENU + " " + MENU, -0.2, 0.01, compression_ratio(MENU + " " + MENU), 0.0)
    assert menu.compression_ratio > OPTIONS.compression_ratio_threshold
    assert needs_fallback(menu, OPTIONS)
    again = Decoded([], MENU, -0.25, 0.01, 2.6, 0.2)
    assert better([menu, again], OPTIONS) is menu  # neither passes: the more probable
    calm = Decoded([], MENU, -0.5, 0.01, 1.8, 0.2)
    assert better([menu, calm], OPTIONS) is calm  # the first that passes
    silence = Decoded([], "Продолжение следует...", -1.5, 0.9, 1.1, 0.0)
    assert not needs_fallback(silence, OPTIONS)  # Whisper's silence: no re-decode


def test_a_decode_that_ran_to_the_token_cap_is_a_loop_whatever_its_ratio() -> None:
    # Rush-hour dev seed 11: "Здравствуйте! Здравствуйте! ... Упаковка из восьми ..." ran
    # to the cap with a ratio of 3.1, a window of radio gibberish at 10.4.
    capped = Decoded([], "Здравствуйте! Упаковка", -0.1, 0.01, 1.5, 0.0, capped=True)
    assert needs_fallback(capped, OPTIONS)
    ended = Decoded([], "Упаковка из восьми", -0.6, 0.01, 1.4, 0.0)
    assert better([capped, ended], OPTIONS) is ended  # the one that ended, though less probable
    also_capped = Decoded([], "Здравствуйте!", -0.3, 0.01, 1.2, 0.2, capped=True)
    assert better([capped, also_capped], OPTIONS) is capped  # none ended: the more probable


def test_a_loop_of_words_or_inside_a_word_is_decoded_again_as_a_loop() -> None:
    # looping() sends a window to the no-repeat re-decode instead of sampling
    assert not looping(Decoded([], "Добрый день, мне нужен хлеб и молоко.", -0.2, 0.01, 1.2, 0.0))
    assert not looping(Decoded([], "нет, нет, нет, спасибо", -0.2, 0.01, 1.3, 0.0))
    assert looping(Decoded([], "Здравствуйте!", -0.2, 0.01, 1.1, 0.0, capped=True))
    assert looping(Decoded([], "и молоко, " * 9, -0.2, 0.01, 2.0, 0.0))
    # an in-word loop short of the token cap (fresh rush-hour 31-06 shape)
    assert looping(Decoded([], "Мне пакет и дитититититититити", -0.4, 0.01, 1.9, 0.0))


def test_a_loop_inside_a_segment_is_cut_to_one_copy() -> None:
    looped = "Добрый день, мне нужен хлеб " + "и молоко, " * 9 + "спасибо."
    kept, dropped = guards.judge([piece(looped)], OPTIONS)
    assert kept[0].text == "Добрый день, мне нужен хлеб и молоко, спасибо."
    assert dropped == [
        {"text": " ".join(["и молоко,"] * 8), "start": 0.0, "why": "repetition_loop"}
    ]
    kept, dropped = guards.judge([piece("и " * 16)], OPTIONS)
    assert [p.text for p in kept] == ["и"] and dropped[0]["why"] == "repetition_loop"


def test_a_word_that_loops_inside_itself_is_removed() -> None:
    # Held-out rush-hour seed 31: the first pass, the no-repeat one and sampling all looped
    # inside one word; kept, it was 260 letters of a 180-letter dialogue's transcript.
    junk = "ди" + "ти" * 40
    p = piece(f"Добрый день, я за этим {junk} Конечно, 1000000 рублей. Ха-ха-ха, ааа.")
    kept, dropped = guards.judge([p], OPTIONS)
    assert kept[0].text == "Добрый день, я за этим Конечно, 1000000 рублей. Ха-ха-ха, ааа."
    assert dropped == [{"text": junk, "start": 0.0, "why": "repetition_loop"}]


def test_a_loop_across_segments_is_cut_but_a_repeat_is_speech() -> None:
    twice = [piece("Два кефира.", 0), piece("Два кефира.", 2)]
    kept, dropped = guards.judge(twice, OPTIONS)
    assert len(kept) == 2 and dropped == []
    loop = [piece("Спасибо за покупку.", 2 * k) for k in range(6)]
    kept, dropped = guards.judge(loop, OPTIONS)
    assert [p.start for p in kept] == [0]
    assert [d["why"] for d in dropped] == ["repetition_loop"] * 5


def test_silence_and_phantoms_need_evidence() -> None:
    # Whisper's rule: no-speech probability high *and* log-probability low.
    kept, dropped = guards.judge([piece("Спасибо.", no_speech_prob=0.9, avg_logprob=-1.4)], OPTIONS)
    assert kept == [] and dropped[0]["why"] == "no_speech"
    kept, _ = guards.judge([piece("Спасибо.", no_speech_prob=0.9, avg_logprob=-0.4)], OPTIONS)
    assert [p.text for p in kept] == ["Спасибо."]
    # A subtitle credit on audio the VAD did not call speech, or decoded unsure: dropped.
    for kw in ({"speech": 0.1}, {"avg_logprob": -1.2}):
        speech = kw.pop("speech", 1.0)
        kept, dropped = guards.judge(
            [piece("Продолжение следует...", speech=speech, **kw)], OPTIONS
        )
        assert kept == [] and dropped[0]["why"] == "phantom_line"
    # Said by a person, clearly: kept.
    kept, _ = guards.judge([piece("Спасибо за внимание, приходите ещё.")], OPTIONS)
    assert len(kept) == 1
    long_line = "Продолжение следует завтра, приходите за свежим хлебом к восьми утра."
    kept, _ = guards.judge([piece(long_line, speech=0.1)], OPTIONS)
    assert len(kept) == 1


def _spans(*seconds: tuple[float, float]) -> list[tuple[int, int]]:
    return [(round(a * windows.RATE), round(b * windows.RATE)) for a, b in seconds]


def test_speech_is_packed_into_windows_of_at_most_30_s() -> None:
    audio = np.zeros(200 * windows.RATE, dtype=np.float32)
    spans = _spans(*[(12.0 * k, 12.0 * k + 9.0) for k in range(7)])  # 9 s turns, 3 s pauses
    found = windows.pack(audio, spans)
    assert [len(w.pieces) for w in found] == [3, 3, 1]
    assert all(w.samples <= 30 * windows.RATE for w in found)
    second = found[1]
    assert second.to_dialogue(0.0) == 36.0 and second.to_dialogue(9.5) == 48.5
    assert second.to_dialogue(26.9) == 68.9
    assert len(second.audio(audio)) == 27 * windows.RATE


def test_the_rest_of_a_window_maps_back_to_the_dialogue() -> None:
    window = windows.Window(tuple(_spans((10.0, 20.0), (30.0, 45.0))))
    assert window.after(8.0) == _spans((18.0, 20.0), (30.0, 45.0))
    assert window.after(12.5) == _spans((32.5, 45.0))
    assert window.after(25.0) == []
    flags = np.zeros(100, dtype=bool)
    flags[50:] = True
    half = [(25 * 512, 75 * 512)]
    assert windows.speech_share(flags, 512, half) == 0.5


def test_the_rest_of_a_window_from_a_dialogue_time() -> None:
    """After a loop's first copy, what is left of the window, on the dialogue's time line."""
    window = windows.Window(tuple(_spans((10.0, 20.0), (30.0, 45.0))))
    assert window.since(12.0) == _spans((12.0, 20.0), (30.0, 45.0))
    assert window.since(25.0) == _spans((30.0, 45.0))
    assert window.since(31.5) == _spans((31.5, 45.0))
    assert window.since(45.0) == []


def test_a_segment_over_two_far_apart_pieces_is_split_where_its_words_are() -> None:
    """Tails of two windows decoded as one: "эмигрант" at 30 s and "необузданный" at 57 s
    came back as one segment at 30 s, and the transcript put the later word first."""
    window = windows.Window(tuple(_spans((30.0, 32.0), (56.0, 58.0))))
    assert [window.piece_at(t) for t in (0.0, 1.99, 2.0, 3.9, 9.0)] == [0, 0, 1, 1, 1]
    seg = {
        "start": 0.0,
        "end": 4.0,
        "tokens": [],
        "words": [
            {"start": 0.1, "end": 0.8, "word": " Польский"},
            {"start": 0.8, "end": 1.7, "word": " эмигрант,"},
            {"start": 2.2, "end": 3.6, "word": " необузданный."},
        ],
    }
    parts = transcribe._parts(None, window, seg)  # type: ignore[arg-type]
    assert [(a, b, words) for a, b, words, _ in parts] == [
        (30.1, 31.7, ["Польский", "эмигрант,"]),
        (56.2, 57.6, ["необузданный."]),
    ]


def test_a_word_over_two_pieces_is_timed_inside_the_piece_it_belongs_to() -> None:
    """Two tails decoded as one: "Быстрый набор" (33 s) and "глядел на ... шарик" (44 s)
    came back as "Выглядел на небольшой шарик", one segment from 32.8 s to 47.7 s; its
    first word began in the earlier piece, so the whole sentence was put 11 s early."""
    window = windows.Window(tuple(_spans((32.8, 34.0), (44.2, 47.7))))
    seg = {
        "start": 0.0,
        "end": 4.7,
        "tokens": [],
        "words": [
            {"start": 0.9, "end": 1.6, "word": " Выглядел"},  # mostly in the second piece
            {"start": 1.6, "end": 1.9, "word": " на"},
            {"start": 1.9, "end": 4.6, "word": " шарик."},
        ],
    }
    parts = transcribe._parts(None, window, seg)  # type: ignore[arg-type]
    assert [(a, b, words) for a, b, words, _ in parts] == [
        (44.2, 47.6, ["Выглядел", "на", "шарик."])
    ]
    assert window.in_piece(0.0, 1) == 44.2 and window.in_piece(9.0, 0) == 34.0


def test_a_long_monologue_is_cut_at_its_quietest_moment() -> None:
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(70 * windows.RATE)).astype(np.float32)
    audio[round(26.0 * windows.RATE) : round(26.3 * windows.RATE)] = 0.0  # a breath
    found = windows.pack(audio, _spans((0.0, 70.0)))
    first_cut = found[0].pieces[0][1] / windows.RATE
    assert 26.0 <= first_cut <= 26.3
    assert all(w.samples <= 30 * windows.RATE for w in found)
    assert found[-1].pieces[-1][1] == 70 * windows.RATE  # nothing lost


def test_speech_spans_are_padded_and_merged() -> None:
    frame = 512
    flags = np.zeros(400, dtype=bool)
    flags[50:100] = True  # 1.6 s to 3.2 s
    flags[110:150] = True  # 0.32 s later: one span
    flags[300:320] = True  # 9.6 s to 10.24 s
    audio = np.zeros(400 * frame, dtype=np.float32)
    spans = windows.speech_spans(audio, flags, frame)
    assert [(round(a / 16000, 2), round(b / 16000, 2)) for a, b in spans] == [
        (1.4, 5.0),
        (9.4, 10.44),
    ]
