"""The soak run's options: one dataclass, and the command line that fills it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    """How big the run is, how fast its devices send, and whether faults are injected."""

    devices: int = 20
    minutes: float = 30.0
    faults: bool = False
    bad_chunks: int = 8  # one of each kind of devkit/soak/badaudio.py
    chunk_sec: float = 60.0
    speed: float = (
        60.0  # chunks released to each device at this multiple of real time; 0: all at once
    )
    outage_sec: float = 180.0  # longest device network outage (below SWEEP_DELAY_SEC)
    seed: int = 0
    timeout_sec: float = 3600.0
    fuzz_examples: int = 0  # after the run: property-based requests against the ingest API
    workdir: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The soak options, shared by `python -m salescontrol soak` and bench_soak.py."""
    parser.add_argument("--devices", type=int, default=Options.devices)
    parser.add_argument("--minutes", type=float, default=Options.minutes, help="audio per device")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="inject faults, duplicate every message, and compare with a fault-free run",
    )
    parser.add_argument("--bad-chunks", type=int, default=Options.bad_chunks)
    parser.add_argument("--chunk-sec", type=float, default=Options.chunk_sec)
    parser.add_argument(
        "--speed",
        type=float,
        default=Options.speed,
        help="multiple of real time at which each device's chunks come (0: all at once)",
    )
    parser.add_argument(
        "--outage-sec", type=float, default=Options.outage_sec, help="longest network outage"
    )
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--timeout-sec", type=float, default=Options.timeout_sec)
    parser.add_argument("--fuzz-examples", type=int, default=Options.fuzz_examples)
    parser.add_argument("--workdir", type=Path, default=None)


def options_from(args: argparse.Namespace) -> Options:
    """The Options of parsed arguments (other arguments, such as --json, are ignored)."""
    names = Options.__dataclass_fields__
    return Options(**{k: v for k, v in vars(args).items() if k in names})
