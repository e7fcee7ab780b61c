"""Rush hour without the stack, and what the voice work costs.

1. The rush-hour corpus (devkit/rushhour), every recording of both splits, through the
   vad function's and the assemble function's own steps (devkit/rushhour/offline.py:
   the recorder's opus coding, VAD, background split, voice windows, timeline.plan with
   the queue cut) and the ASR worker's window roles: segmentation, dialogues made of
   background speech, role accuracy per window. The dev split is what every threshold
   was tuned on; the test split is frozen.
2. CPU per 60 s chunk (process_time, one thread, variants interleaved in one process):
   decode + VAD as before, and the voice windows added (embedding, loudness, sibilance);
   per dialogue: the voice windows of its speech and the roles of its transcript.
3. A 14-hour day of one register: 840 chunks of that vad work.
"""

from __future__ import annotations

import json
import time

import numpy as np
from common import write_result

from asr_service import roles
from devkit import evaluation, rushhour
from devkit.rushhour import offline
from functions.vad import voiceprint
from salescontrol import speakers, vad

REPS = 5
DAY_CHUNKS = 14 * 60


def corpus() -> tuple[list[list], dict]:
    rows, per_split = [], {}
    for split, seeds in (
        ("dev (tuned)", rushhour.DEV_SEEDS),
        ("test (frozen)", rushhour.TEST_SEEDS),
        ("held-out dialogues", rushhour.HELDOUT_SEEDS),
    ):
        figures = []
        for seed in seeds:
            rec = rushhour.generate(seed)
            f = offline.score(evaluation.parse_truth(rec.truth), offline.run(rec.audio))
            figures.append(f)
            rows.append(
                [
                    split,
                    seed,
                    round(rec.truth["duration"] / 60, 1),
                    f["dialogues_true"],
                    f["dialogues_found"],
                    f["dialogues_matched"],
                    round(f["segmentation_f1"], 3),
                    f["dialogues_from_background"],
                    f["background_sec"],
                    round(f["role_accuracy"], 3),
                    round(f["role_coverage"], 3),
                ]
            )
            print(rows[-1], flush=True)
        matched = sum(f["dialogues_matched"] for f in figures)
        p = matched / sum(f["dialogues_found"] for f in figures)
        r = matched / sum(f["dialogues_true"] for f in figures)
        per_split[split] = {
            "segmentation_f1": round(evaluation.f1(p, r), 3),
            "from_background": sum(f["dialogues_from_background"] for f in figures),
            "role_accuracy": round(float(np.mean([f["role_accuracy"] for f in figures])), 3),
        }
        rows.append(
            [
                split,
                "all",
                "",
                "",
                "",
                "",
                per_split[split]["segmentation_f1"],
                per_split[split]["from_background"],
                "",
                per_split[split]["role_accuracy"],
                "",
            ]
        )
    return rows, per_split


def _cpu(work, reps: int = REPS) -> float:
    t0 = time.process_time()
    for _ in range(reps):
        work()
    return (time.process_time() - t0) / reps


def cost() -> tuple[list[list], dict]:
    rec = rushhour.generate(rushhour.DEV_SEEDS[0])
    chunk = offline.as_uploaded(rec.audio[60 * 16000 : 120 * 16000])
    options = vad.VadOptions()
    found = vad.speech_segments(chunk, options)
    voiceprint.analyse(chunk, found)  # warm up: model loads
    detect, voices = 0.0, 0.0
    for _ in range(REPS):  # interleaved, so load changes hit both alike
        detect += _cpu(lambda: vad.speech_segments(chunk, options), 1)
        voices += _cpu(lambda: voiceprint.analyse(chunk, found), 1)
    detect, voices = detect / REPS, voices / REPS
    speech_sec = sum(b - a for a, b in found) / 1000
    windows = voiceprint.analyse(chunk, found).windows
    heard = [speakers.Window(w.start_ms, w.end_ms, w.embedding, w.level_db) for w in windows]
    seller = speakers.dominant_voice(heard, roles.PARAMS)
    segments = [
        {
            "start": i * 2.0,
            "end": i * 2.0 + 1.8,
            "text": "слово " * 5,
            "words": [
                {"start": i * 2.0 + k * 0.3, "end": i * 2.0 + k * 0.3 + 0.25, "word": "слово"}
                for k in range(6)
            ],
        }
        for i in range(10)
    ]

    def label() -> None:
        turns = roles.turns(heard, seller)
        spans = [(a / 1000, b / 1000, r, c) for a, b, r, c in turns]
        roles.label_segments(segments, spans)

    per_dialogue_roles = _cpu(label, 20)
    per_speech_sec = voices / speech_sec
    dialogue_speech_sec = 15.0  # a rush-hour dialogue has about this much speech
    rows = [
        ["VAD (Silero, before)", "per 60 s chunk", round(detect * 1000, 1)],
        [
            "voice windows (embedding, loudness, sibilance)",
            f"per 60 s chunk ({speech_sec:.0f} s speech)",
            round(voices * 1000, 1),
        ],
        [
            "voice windows",
            f"per dialogue ({dialogue_speech_sec:.0f} s speech)",
            round(per_speech_sec * dialogue_speech_sec * 1000, 1),
        ],
        ["roles of a transcript (ASR worker)", "per dialogue", round(per_dialogue_roles * 1000, 2)],
        [
            "voice windows",
            f"per 14-hour day ({DAY_CHUNKS} chunks), CPU s",
            round(voices * DAY_CHUNKS, 1),
        ],
        [
            "decode + VAD + voice windows",
            f"per 14-hour day ({DAY_CHUNKS} chunks), CPU s",
            round((detect + voices) * DAY_CHUNKS, 1),
        ],
    ]
    return rows, {"voices_ms": voices * 1000, "detect_ms": detect * 1000, "speech_sec": speech_sec}


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    corpus_rows, splits = corpus()
    cost_rows, c = cost()
    dev, test = splits["dev (tuned)"], splits["test (frozen)"]
    held = splits["held-out dialogues"]
    summary = (
        "The rush-hour corpus (python -m devkit.rushhour: a seller at the microphone, a queue "
        "of far, reverberant, band-limited customers 3-8 s apart with hesitations of 2-4.5 s "
        "inside dialogues, overlapping replies, a band-limited radio between and under "
        "dialogues, music, shop noise; about 7 min and 14-17 dialogues per recording) through "
        "the vad and assemble functions' own steps without the stack (the whole pipeline's "
        "figures are in 'Whole pipeline on the demo audio and the rush-hour corpus'). Every "
        "threshold of the queue split, the background split and the roles was tuned on the "
        f"dev seeds {list(rushhour.DEV_SEEDS)}; the test seeds {list(rushhour.TEST_SEEDS)} "
        f"are frozen. Segmentation F1 (IoU >= 0.5): dev {dev['segmentation_f1']}, test "
        f"{test['segmentation_f1']}; dialogues made of radio alone: dev "
        f"{dev['from_background']}, test {test['from_background']}; role accuracy (per voice "
        f"window, share of speech time): dev {dev['role_accuracy']}, test "
        f"{test['role_accuracy']}. Target on the frozen split (F1 >= 0.9, no dialogue of radio "
        f"alone, role accuracy >= 0.9): F1 {_verdict(test['segmentation_f1'] >= 0.9)}, radio "
        f"{_verdict(test['from_background'] == 0)}, roles "
        f"{_verdict(test['role_accuracy'] >= 0.9)}. Dev and test recordings draw on the same "
        "14 dialogue scripts; the held-out seeds "
        f"{list(rushhour.HELDOUT_SEEDS)} are made the same way from 28 other dialogues "
        "(shorter ones among them), never tuned on: segmentation F1 "
        f"{held['segmentation_f1']}, dialogues of radio alone {held['from_background']}, role "
        f"accuracy {held['role_accuracy']} (target "
        f"{_verdict(held['segmentation_f1'] >= 0.9 and held['from_background'] == 0)}). "
        "History of these figures: held-out F1 0.848 with 2 dialogues of radio alone at "
        "first (README 'Known limits'); two changes were then chosen on the dev seeds and on "
        "diagnostic seeds 41-48 made from the same 28 held-out dialogues with other voices, "
        "order and radio (never reported; seeds 31-33 share their scripts with those, as "
        "the test seeds share theirs with the dev seeds), and seeds 31-33 were measured "
        "once after each: a closed stretch whose loudest voice window is under -30 dB "
        "is background, not a dialogue (held-out 0.875, radio 0; test unchanged "
        "0.878), then two customers differ when their windows agree less than the geometric "
        "mean of each one's own agreement, not the smaller one (a customer heard through "
        "reverb and overlap agrees with herself less; test 0.97, held-out 0.909). "
        f"The voice windows cost {c['voices_ms']:.0f} ms of CPU per "
        f"60 s chunk with {c['speech_sec']:.0f} s of speech (VAD alone: "
        f"{c['detect_ms']:.0f} ms), so a 14-hour register day adds about "
        f"{c['voices_ms'] * DAY_CHUNKS / 1000:.0f} CPU s to the vad function: a 60 s chunk "
        "still takes well under a second. CPU times (process_time, interleaved) on a shared "
        "2-core machine."
    )
    write_result(
        "speakers",
        "Rush hour: queue split, background speech, roles (no stack) and their cost",
        summary,
        [
            {
                "title": "Rush-hour corpus through vad + assemble steps (offline)",
                "columns": [
                    "split",
                    "seed",
                    "min",
                    "true",
                    "found",
                    "matched",
                    "segmentation F1",
                    "dialogues from radio alone",
                    "background dropped s",
                    "role accuracy",
                    "role coverage",
                ],
                "rows": corpus_rows,
            },
            {
                "title": "What the voice work costs (CPU, one thread)",
                "columns": ["work", "unit", "ms (CPU s where said)"],
                "rows": cost_rows,
            },
        ],
        splits=splits,
    )
    print(json.dumps(splits))


if __name__ == "__main__":
    main()
