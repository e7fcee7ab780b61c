"""VAD engines on noisy synthetic shop audio, vad cost per chunk, assembly cost per day.

For each shop-noise level a 10-minute recording with seller–customer dialogues (festival
Russian voice, pitch-shifted customer) is scored per engine: false speech on
noise-only stretches, missed speech, dialogue boundary error, dialogue precision/recall
(IoU ≥ 0.5) after assembly, and CPU cost of one 60 s chunk (decode + detect).
"""

from __future__ import annotations

import time

import numpy as np
from common import write_result

from devkit import scene, synth
from salescontrol import audio, timeline, vad
from salescontrol.config import load

NOISE_LEVELS_DB = (-45.0, -35.0, -30.0)
ENGINES = (
    ("webrtc (aggressiveness 2)", vad.VadOptions(engine="webrtc", aggressiveness=2)),
    ("webrtc (aggressiveness 3)", vad.VadOptions(engine="webrtc", aggressiveness=3)),
    ("silero (threshold 0.5)", vad.VadOptions(engine="silero", threshold=0.5)),
)
STEP_MS = 10


def _mask(spans: list[tuple[float, float]], total_ms: int) -> np.ndarray:
    m = np.zeros(total_ms // STEP_MS, dtype=bool)
    for a, b in spans:
        m[int(a * 1000) // STEP_MS : int(b * 1000) // STEP_MS] = True
    return m


def _boundary_error(truth: list, found: list) -> float | None:
    errors = []
    for t in truth:
        best = max(found, key=lambda f: scene.iou(t, f), default=None)
        if best is not None and scene.iou(t, best) >= 0.5:
            errors += [abs(best[0] - t[0]), abs(best[1] - t[1])]
    return round(float(np.mean(errors)), 2) if errors else None


def _chunk_cost(options: vad.VadOptions, chunk: np.ndarray, data: bytes) -> tuple[float, float]:
    vad.speech_segments(chunk, options)  # warm up (model load)
    runs = 5
    t0 = time.process_time()
    for _ in range(runs):
        audio.decode(data)
    decode = (time.process_time() - t0) / runs
    t0 = time.process_time()
    for _ in range(runs):
        vad.speech_segments(chunk, options)
    return decode, (time.process_time() - t0) / runs


def quality(params: timeline.Params) -> tuple[list[list], dict]:
    rows, acceptance = [], {}
    for level in NOISE_LEVELS_DB:
        rec = scene.shop_recording(600.0, noise_db=level, seed=1)
        total_ms = round(rec.seconds * 1000)
        speech = _mask(rec.phrases, total_ms)
        noise_only = ~_mask([(a - 0.5, b + 0.5) for a, b in rec.dialogues], total_ms)
        for name, options in ENGINES:
            detected = np.zeros_like(speech)
            spans = scene.offline_dialogues(rec.audio, options, params)
            step = 60 * synth.RATE
            for i in range(0, len(rec.audio), step):
                off = i / synth.RATE
                for a, b in vad.speech_segments(rec.audio[i : i + step], options):
                    detected[
                        int((off * 1000 + a) // STEP_MS) : int((off * 1000 + b) // STEP_MS)
                    ] = True
            found = [(s.start_ms / 1000, s.end_ms / 1000) for s in spans if not s.blip]
            p, r = scene.precision_recall(rec.dialogues, found)
            rows.append(
                [
                    f"{level:.0f}",
                    name,
                    round(100 * float(detected[noise_only].mean()), 1),
                    round(100 * float(1 - detected[speech].mean()), 1),
                    _boundary_error(rec.dialogues, found),
                    len(rec.dialogues),
                    len(found),
                    round(p, 3),
                    round(r, 3),
                ]
            )
            if level == -35.0:
                acceptance[name] = {"precision": p, "recall": r}
            print(rows[-1], flush=True)
    return rows, acceptance


def cost() -> list[list]:
    rec = scene.shop_recording(60.0, noise_db=-35.0, seed=2, lead_in=2.0)
    data = audio.encode_opus(rec.audio)
    rows = []
    for name, options in ENGINES:
        decode, detect = _chunk_cost(options, rec.audio, data)
        per_chunk = decode + detect
        rows.append(
            [name, round(decode * 1000, 1), round(detect * 1000, 1), round(1 / per_chunk, 1)]
        )
        print(rows[-1], flush=True)
    return rows


def assembly_day(params: timeline.Params) -> list[list]:
    """timeline.plan as the assemble function calls it, once per chunk, for 1440 chunks."""
    rng = np.random.default_rng(3)
    day_ms, chunk_ms = 86_400_000, 60_000
    segments, t = [], 0
    while t < day_ms:
        t += int(rng.uniform(20_000, 90_000))
        for _ in range(int(rng.integers(3, 12))):
            d = int(rng.uniform(800, 4000))
            segments.append((t, min(t + d, day_ms)))
            t += d + int(rng.uniform(200, 1500))
    segments = [s for s in segments if s[1] > s[0]]
    closed: list[timeline.Interval] = []
    t0 = time.process_time()
    spans_total = 0
    for k in range(day_ms // chunk_ms):
        covered = [(-(2**62), (k + 1) * chunk_ms)]
        hi = (k + 1) * chunk_ms
        open_segments = timeline.subtract([s for s in segments if s[0] < hi], closed[-5:])
        open_segments = [s for s in open_segments if not closed or s[0] >= closed[-1][1]]
        spans = timeline.plan(open_segments, covered, params)
        closed += [(s.start_ms, s.end_ms) for s in spans]
        spans_total += len(spans)
    elapsed = time.process_time() - t0
    # Each closed dialogue also has its audio encoded (here: a 60 s clip).
    clip = scene.shop_recording(60.0, noise_db=-35.0, seed=2, lead_in=2.0).audio
    t0 = time.process_time()
    for _ in range(5):
        audio.encode_opus(clip)
    encode_ms = (time.process_time() - t0) / 5 * 1000
    return [
        [
            len(segments),
            spans_total,
            round(elapsed, 3),
            round(elapsed / 1440 * 1000, 3),
            round(encode_ms, 1),
        ]
    ]


def main() -> None:
    params = timeline.Params(
        gap_ms=round(load({}).silence_gap_sec * 1000),
        max_ms=round(load({}).max_dialogue_sec * 1000),
        min_speech_ms=round(load({}).min_dialogue_speech_sec * 1000),
    )
    quality_rows, acceptance = quality(params)
    cost_rows = cost()
    day_rows = assembly_day(params)
    at35 = {row[1]: row for row in quality_rows if row[0] == "-35"}
    web, sil = at35["webrtc (aggressiveness 2)"], at35["silero (threshold 0.5)"]
    cost_by = {row[0]: row for row in cost_rows}
    web_cost, sil_cost = cost_by["webrtc (aggressiveness 2)"], cost_by["silero (threshold 0.5)"]
    summary = (
        "10-minute synthetic shop recordings (festival Russian seller, pitch-shifted "
        "customer at -20 dBFS; pink noise, mains hum, fridge drone and scanner beeps at "
        "the noise level given), cut into 60 s chunks as the pipeline does, then "
        f"assembled with the default settings. At -35 dBFS noise webrtcvad "
        f"(aggressiveness 2) marks {web[2]}% of the noise-only time as speech and reaches "
        f"dialogue precision {web[7]} / recall {web[8]}; Silero marks {sil[2]}% and "
        f"reaches {sil[7]} / {sil[8]} (IoU >= 0.5) with {sil[4]} s mean boundary error. "
        "'Missed speech' counts festival's silent phrase edges as speech, so it is "
        "inflated for every engine. Silero costs "
        f"{sil_cost[2]} ms per 60 s chunk against {web_cost[2]} ms for webrtcvad "
        f"({sil_cost[3]} vs {web_cost[3]} chunks per second per core including decode), "
        "far below the 60 s a chunk lasts. Default VAD_ENGINE=silero by this measurement; "
        "webrtc stays selectable. CPU times (process_time) were taken on a shared, busy "
        "2-core machine: re-run on a quiet one for absolute figures."
    )
    write_result(
        "vad",
        "VAD engines and assembly",
        summary,
        [
            {
                "title": "Detection quality on noisy shop audio (10 min per noise level)",
                "columns": [
                    "noise dBFS",
                    "engine",
                    "false speech on noise %",
                    "missed speech %",
                    "boundary error s",
                    "true dialogues",
                    "found dialogues",
                    "precision",
                    "recall",
                ],
                "rows": quality_rows,
            },
            {
                "title": "vad function cost per 60 s opus chunk (one core)",
                "columns": ["engine", "decode ms", "detect ms", "chunks per second per core"],
                "rows": cost_rows,
            },
            {
                "title": "Assembly (timeline.plan, no I/O) for one device-day of 60 s chunks",
                "columns": [
                    "speech segments",
                    "spans closed",
                    "plan CPU s per day",
                    "plan ms per chunk",
                    "opus encode ms per 60 s dialogue",
                ],
                "rows": day_rows,
            },
        ],
        acceptance=acceptance,
    )


if __name__ == "__main__":
    main()
