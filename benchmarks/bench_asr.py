"""ASR: the worker's decoding settings against a naive faster-whisper call, same weights.

Audio: festival Russian shop dialogues (tests/asr_samples.py) over synthetic shop noise,
written as ogg/opus like dialogue objects, plus a noise-only clip. The naive call is
`WhisperModel(dir).transcribe(path)` with every default (compute type from the model,
beam 5, temperature fallback, conditioning on previous text). The worker path decodes
the file and runs asr_service's Engine with the default settings. RTF = processing
seconds / audio seconds (lower is faster); CER after devkit.evaluation.normalise.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import write_result

from asr_service import models
from asr_service.engine import Engine, decode
from asr_service.transcribe import Options, filter_segments, transcribe
from devkit import synth
from devkit.evaluation import cer
from salescontrol import config
from tests.asr_samples import (
    DIALOGUE,
    DIALOGUE_2,
    DIALOGUE_3,
    dialogue_audio,
    script,
)

REPEATS = 2  # naive and worker are timed twice, the best run kept (shared machine)


def clips(folder: Path) -> list[tuple[Path, str]]:
    """(ogg file, reference text) of the speech clips, and the noise-only clip (ref "")."""
    items = [
        (dialogue_audio(DIALOGUE, noise_db=-45.0), script(DIALOGUE)),
        (dialogue_audio(DIALOGUE_2, noise_db=-35.0), script(DIALOGUE_2)),
        (dialogue_audio(DIALOGUE_3, noise_db=-40.0), script(DIALOGUE_3)),
        (synth.shop_noise(20.0, level_db=-45.0, seed=3), ""),
    ]
    return [(synth.write(folder / f"clip{i}.ogg", a), ref) for i, (a, ref) in enumerate(items)]


def measure(name: str, transcribe_file, files: list[tuple[Path, str]], repeats: int = 1) -> dict:
    """Best-of-`repeats` RTF over the speech clips, CER over them, text on noise."""
    speech = [(p, ref) for p, ref in files if ref]
    audio_sec = sum(len(decode(p, p.name)) / 16000 for p, _ in speech)
    best, texts = float("inf"), []
    for _ in range(repeats):
        started = time.perf_counter()
        texts = [transcribe_file(p) for p, _ in speech]
        best = min(best, time.perf_counter() - started)
    reference = " ".join(ref for _, ref in speech)
    noise_text = transcribe_file(next(p for p, ref in files if not ref))
    return {
        "name": name,
        "rtf": best / audio_sec,
        "cer": cer(reference, " ".join(texts)),
        "noise_text": noise_text,
    }


def main() -> None:
    load_at_start = os.getloadavg()[0]
    settings = config.load({})
    model_dir = models.default_model_dir(Path(settings.whisper_cache_dir))
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    with tempfile.TemporaryDirectory() as tmp:
        files = clips(Path(tmp))
        naive_model = WhisperModel(str(model_dir))

        def naive(path: Path) -> str:
            segments, _ = naive_model.transcribe(str(path))
            return " ".join(s.text.strip() for s in segments)

        def via(engine: Engine):
            return lambda path: engine.run(decode(path, path.name))[0].text

        worker = Engine(settings)
        rows = [
            measure("naive WhisperModel(dir).transcribe(path)", naive, files, REPEATS),
            measure(
                "worker settings (int8, beam 5, T=0, words, guards)", via(worker), files, REPEATS
            ),
        ]
        variants = {
            "worker settings with float32": {"WHISPER_COMPUTE_TYPE": "float32"},
            "worker, beam 1": {"ASR_BEAM_SIZE": "1"},
            "worker, no word timestamps": {"ASR_WORD_TIMESTAMPS": "false"},
            "worker, cpu_threads 1": {"WHISPER_CPU_THREADS": "1"},
        }
        for name, env in variants.items():
            rows.append(measure(name, via(Engine(config.load(env))), files))

        batched = BatchedInferencePipeline(worker.fast)
        options = Options.from_settings(settings)

        def batched_file(path: Path) -> str:
            kwargs = {k: v for k, v in options.whisper_kwargs().items() if k != "vad_filter"}
            segments, _ = batched.transcribe(decode(path, path.name), batch_size=8, **kwargs)
            kept, _ = filter_segments(segments, options)
            return " ".join(s.text.strip() for s in kept)

        rows.append(measure("BatchedInferencePipeline, batch 8 (own VAD)", batched_file, files))

        # Two dialogues at once on cpu_threads=1 x num_workers=2, against one at a time.
        pair_model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=1, num_workers=2
        )

        def pair(path: Path) -> str:
            return transcribe(pair_model, "base", decode(path, path.name), options).text

        speech = [p for p, ref in files if ref]
        audio_sec = sum(len(decode(p, p.name)) / 16000 for p in speech)
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(pair, speech))
        parallel_rtf = (time.perf_counter() - started) / audio_sec

    naive_row, worker_row = rows[0], rows[1]
    speedup = naive_row["rtf"] / worker_row["rtf"]
    table = {
        "columns": ["decoding", "RTF", "speed-up vs naive", "CER", "text on 20 s of shop noise"],
        "rows": [
            [
                r["name"],
                f"{r['rtf']:.3f}",
                f"{naive_row['rtf'] / r['rtf']:.2f}x",
                f"{r['cer']:.3f}",
                r["noise_text"] or "(none)",
            ]
            for r in rows
        ],
    }
    passed = speedup >= 1.5 and worker_row["cer"] <= naive_row["cer"]
    summary = (
        f"Same weights (offline multilingual base), same {len(speech)} festival Russian "
        f"dialogues over shop noise ({audio_sec:.0f} s), CPU, {os.cpu_count()} cores. The "
        f"worker's settings run at RTF {worker_row['rtf']:.3f} against {naive_row['rtf']:.3f} "
        f"for the naive call: {speedup:.2f}x faster, CER {worker_row['cer']:.3f} vs "
        f"{naive_row['cer']:.3f} (acceptance: >= 1.5x and CER no worse: "
        f"{'met' if passed else 'NOT met'}). Two dialogues at once on cpu_threads=1 x "
        f"num_workers=2 gave RTF {parallel_rtf:.3f} per audio second. Load average when the "
        f"run started: {load_at_start:.2f} (timings taken under load vary 2-3x; ratios are "
        "steadier than absolutes)."
    )
    write_result(
        "asr",
        "ASR worker vs naive faster-whisper",
        summary,
        [table],
        speedup=round(speedup, 3),
        worker_rtf=round(worker_row["rtf"], 4),
        naive_rtf=round(naive_row["rtf"], 4),
        worker_cer=round(worker_row["cer"], 4),
        naive_cer=round(naive_row["cer"], 4),
        parallel_rtf=round(parallel_rtf, 4),
        acceptance_met=passed,
    )


if __name__ == "__main__":
    main()
