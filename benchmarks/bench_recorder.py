"""Recorder agent: CPU and memory while recording 16 kHz opus, and the encoder's headroom.

Runs `python -m recorder` as a child process on a synthetic shop-noise recording,
recording only (`--no-upload`), and samples its CPU time and resident memory with
psutil. Two runs: real time (what the Pi does all day: one 16 kHz mono stream encoded to
24 kbit/s opus chunks) and as fast as possible (how many times real time one core
encodes, i.e. the headroom). BENCH_RECORDER_SEC sets the real-time run's length
(default 60 s). The replay source streams the file in 0.5 s blocks, as a microphone
would deliver them; the microphone's PortAudio buffers are not part of the figure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import yaml
from common import write_result

from devkit import synth

REPO = Path(__file__).resolve().parent.parent


def _config(workdir: Path) -> Path:
    path = workdir / "config.yaml"
    config = {
        "device_id": str(uuid.uuid4()),
        "point_id": str(uuid.uuid4()),
        "register_id": str(uuid.uuid4()),
        "server": {"url": "http://127.0.0.1:9", "token": "b" * 40},
        "recording": {
            "chunk_duration_sec": 60,
            "bitrate": "24k",
            "schedule_start": "00:00",
            "schedule_end": "00:00",
        },
        "storage": {"spool_dir": str(workdir / "spool")},
        "logging": {"level": "WARNING"},
        "healthcheck": {"enabled": False},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _run(config: Path, audio: Path, speed: float) -> dict:
    """Run the recorder over `audio` at `speed`; its CPU and memory, sampled every 0.5 s."""
    command = [sys.executable, "-m", "recorder", "--config", str(config)]
    command += ["--replay", str(audio), "--speed", str(speed), "--no-upload", "--exit-when-done"]
    began = time.monotonic()
    child = subprocess.Popen(command, cwd=REPO)
    process = psutil.Process(child.pid)
    rss, cpu = [], 0.0
    while child.poll() is None:
        try:
            rss.append(process.memory_info().rss)
            times = process.cpu_times()
            cpu = times.user + times.system
        except psutil.NoSuchProcess:
            break
        time.sleep(0.5)
    wall = time.monotonic() - began
    if child.wait() != 0:
        raise SystemExit(f"the recorder failed with {child.returncode}")
    chunks = sorted((config.parent / "spool" / "outbox").glob("chunk_*.ogg"))
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_peak_mib": max(rss) / 2**20,
        "rss_median_mib": sorted(rss)[len(rss) // 2] / 2**20,
        "bytes": sum(p.stat().st_size for p in chunks),
        "chunks": len(chunks),
    }


def main() -> None:
    seconds = float(os.environ.get("BENCH_RECORDER_SEC", "60"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, speed, length in (
            ("real time (1x)", 1.0, seconds),
            ("as fast as possible", 0.0, 600.0),
        ):
            workdir = Path(tmp) / f"run{speed}"
            workdir.mkdir()
            audio = synth.write(workdir / "in.wav", synth.shop_noise(length, -25.0), codec="wav")
            result = _run(_config(workdir), audio, speed)
            rows.append(
                [
                    label,
                    length,
                    round(result["wall"], 1),
                    round(100 * result["cpu"] / result["wall"], 1),
                    round(length / result["cpu"], 1),
                    round(result["rss_median_mib"], 1),
                    round(result["rss_peak_mib"], 1),
                    round(result["bytes"] * 8 / length / 1000, 1),
                ]
            )
            print(rows[-1])
    realtime, fast = rows
    summary = (
        f"Recording one 16 kHz mono stream to 24 kbit/s opus chunks took {realtime[3]} % of "
        f"one core with {realtime[6]} MiB peak resident memory (replay source, real time, "
        f"{seconds:g} s, no upload); one core encodes {fast[4]}x faster than real time. "
        "Measured on the development machine, shared with other work (a Raspberry Pi 4 "
        "core is several times slower); see the script's docstring for what is measured."
    )
    write_result(
        "recorder",
        "Recorder agent: CPU and memory while recording",
        summary,
        [
            {
                "columns": [
                    "run",
                    "audio s",
                    "wall s",
                    "CPU % of one core",
                    "audio s per CPU s",
                    "RSS median MiB",
                    "RSS peak MiB",
                    "opus kbit/s",
                ],
                "rows": rows,
            }
        ],
    )


if __name__ == "__main__":
    main()
