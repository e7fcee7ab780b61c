"""Memory of decoding hostile audio: the vad function's decoder before and after issue 18.

Each bad-audio kind of devkit/soak/badaudio.py that reaches vad, plus an opus stream much
longer than announced and the largest chunk the API allows (300 s, 48 kHz stereo), is
decoded in a fresh child process, once by the decoder as it was (whole file read, then a
double-precision FFT resample, no header check) and once by `audio.decode` with the
announcement's limits. The child reports its peak resident memory (VmHWM) above what it
held after importing and reading the bytes, and the CPU time of the decode. The two
decoders run interleaved, kind by kind.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from common import write_result

from devkit.soak import badaudio
from salescontrol import audio

# The child: decode one file with one decoder and report memory and CPU time.
CHILD = r"""
import io, json, sys, time
import numpy as np, soundfile as sf
from salescontrol import audio

def before(data):
    # salescontrol/audio.py before issue 18: no header check, whole file, float64 FFT.
    with sf.SoundFile(io.BytesIO(data)) as f:
        rate, pcm = f.samplerate, f.read(dtype="float32", always_2d=True)
    mono = pcm.mean(axis=1) if pcm.shape[1] > 1 else pcm[:, 0]
    if rate == 16000:
        return mono
    n_out = max(1, round(len(mono) * 16000 / rate))
    spectrum = np.fft.rfft(mono.astype(np.float64))
    bins = n_out // 2 + 1
    grow = (0, max(0, bins - len(spectrum)))
    spectrum = spectrum[:bins] if bins <= len(spectrum) else np.pad(spectrum, grow)
    return (np.fft.irfft(spectrum, n_out) * (n_out / len(mono))).astype(np.float32)

def hwm_mb():
    # VmHWM: this process's peak resident memory; unlike ru_maxrss it starts afresh at
    # exec, so the parent's size at fork time does not leak into the figure.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

variant, path, rate, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
data = open(path, "rb").read()
base = hwm_mb()
cpu = time.process_time()
try:
    if variant == "before":
        out, outcome = before(data), "decoded"
    else:
        out = audio.decode(data, rate, seconds + 2.0)
        outcome = "decoded"
    outcome += f" ({len(out) / 16000:.0f} s)"
except Exception as exc:  # the old decoder raised libsndfile's errors as they came
    outcome = f"REJECTED: {exc}"
cpu = time.process_time() - cpu
peak = hwm_mb()
print(json.dumps({"base_mb": base, "peak_mb": peak, "cpu_s": cpu, "outcome": outcome}))
"""


def _opus(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples.astype(np.float32), rate, format="OGG", subtype="OPUS")
    return out.getvalue()


def cases() -> list[tuple[str, bytes, int, float]]:
    """(name, bytes, announced rate, announced seconds) of every decoded case."""
    rng = random.Random(0)
    found = []
    for name, make in badaudio.KINDS.items():
        chunk = make(rng)
        if chunk.expected.status != badaudio.REFUSED:
            found.append((name, chunk.data, chunk.sample_rate, chunk.duration_sec))
    noise = np.random.default_rng(1)
    long_opus = _opus(np.zeros(20 * 60 * 16000), 16000)  # 20 min, announced as 60 s
    found.append(("opus_20_min_announced_60_s", long_opus, 16000, 60.0))
    largest = _opus(0.05 * noise.standard_normal((300 * 48000, 2)), 48000)
    found.append(("largest_allowed_300_s_48k_stereo", largest, 48000, 300.0))
    usual = _opus(0.05 * noise.standard_normal(60 * 16000), 16000)
    found.append(("usual_60_s_chunk", usual, 16000, 60.0))
    return found


def measure(variant: str, path: Path, rate: int, seconds: float) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, variant, str(path), str(rate), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(result.stdout)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, rate, seconds in cases():
            path = Path(tmp) / name
            path.write_bytes(data)
            old, new = (measure(v, path, rate, seconds) for v in ("before", "after"))
            print(name, old, new)
            rows.append(
                [
                    name,
                    f"{len(data):,}",
                    f"{old['peak_mb'] - old['base_mb']:.0f}",
                    f"{new['peak_mb'] - new['base_mb']:.0f}",
                    f"{old['cpu_s']:.2f} / {new['cpu_s']:.2f}",
                    new["outcome"][:90],
                ]
            )
    write_result(
        "audio",
        "Hostile audio: decoder memory",
        "Peak resident memory a decode adds (VmHWM of a fresh child process, minus what "
        "it held after imports and reading the bytes), for every bad-audio kind of "
        "devkit/soak/badaudio.py that reaches vad, a 20-minute opus stream announced as "
        "60 s, the largest chunk the API accepts and a usual 60 s chunk; the decoder as it "
        "was before issue 18 against `audio.decode` with the announcement's limits "
        "(header first: rate 8-48 kHz and as announced, at most 2 channels, no more "
        "frames than announced + 2 s; then bounded blocks, single-precision resampling "
        "in 30 s pieces). The 4,044-byte WAV claiming 1 Hz took about 2 GB before (the "
        "vad function has 1 GiB) and is now refused by its header in under a "
        "millisecond; the largest input the API accepts went from about 600 MB to about "
        "125 MB (the decoded samples themselves). CPU seconds are process time of the "
        "decode alone; the machine is shared, so they are indicative.",
        [
            {
                "columns": [
                    "input",
                    "bytes",
                    "MB before",
                    "MB after",
                    "CPU s before / after",
                    "outcome after",
                ],
                "rows": rows,
            }
        ],
        decoder=f"salescontrol.audio (RATES={audio.RATES}, MAX_CHANNELS={audio.MAX_CHANNELS})",
    )


if __name__ == "__main__":
    main()
