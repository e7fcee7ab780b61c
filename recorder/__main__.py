"""`python -m recorder [--config PATH] [--check]`: run the recorder agent (systemd's entry)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

from recorder import config as configuration
from recorder import log as logsetup
from recorder.agent import Agent
from recorder.sources import Microphone, Replay


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recorder", description=__doc__)
    parser.add_argument("--config", type=Path, default=configuration.DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="only validate the config")
    parser.add_argument("--replay", type=Path, help="play this recording instead of the mic")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed (0: max)")
    parser.add_argument("--start", help="UTC time of the replay's first sample (ISO 8601)")
    parser.add_argument("--device", help="sounddevice input device (name or index)")
    parser.add_argument("--no-record", action="store_true", help="only upload the spool")
    parser.add_argument("--no-upload", action="store_true", help="only record into the spool")
    parser.add_argument(
        "--exit-when-done", action="store_true", help="after a replay, exit once uploaded"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = configuration.load(args.config)
    except configuration.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"config ok: {args.config}")
        return 0
    logsetup.setup(config.logging.level, config.logging.format, config.device_id)
    rate = config.recording.sample_rate
    if args.replay:
        start = datetime.fromisoformat(args.start) if args.start else None
        source = Replay(args.replay, speed=args.speed, start=start, sample_rate=rate)
    else:
        device = int(args.device) if args.device and args.device.isdigit() else args.device
        source = Microphone(rate, device)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        agent = Agent(config, source, record=not args.no_record, upload=not args.no_upload)
    except OSError as exc:
        logging.getLogger("recorder").error("cannot start", extra={"error": str(exc)})
        return 1
    with agent:
        while not stop.wait(0.5):
            if args.exit_when_done and agent.wait_drained(0):
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
