"""`python -m salescontrol COMMAND`: one entry for every command-line job.

migrate   apply the SQL migrations of sql/ to DATABASE_URL
local     run the whole cloud side on this machine until Ctrl-C
transcribe  transcribe audio files with the ASR worker's models and settings
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from salescontrol.errors import SalesControlError


class _Stop(Exception):
    """Raised from SIGTERM/SIGINT handlers to unwind into cleanup."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def cmd_migrate(args: argparse.Namespace) -> int:
    from salescontrol import db, migrate

    applied = migrate.migrate(db.engine(), Path(args.sql_dir))
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    from salescontrol.local.stack import LocalStack

    stack = LocalStack(Path(args.workdir), ingest_port=args.port)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        print("starting the local stack ...", flush=True)
        stack.start()
        print(stack.summary(), flush=True)
        print("\nPress Ctrl-C to stop.", flush=True)
        while True:
            stack.check_alive()
            time.sleep(0.5)
    except _Stop:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        print("local stack stopped", flush=True)


def cmd_transcribe(args: argparse.Namespace) -> int:
    import json

    from asr_service.engine import Engine, decode
    from salescontrol.config import settings

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    engine = Engine(settings())  # one model load for all files
    results = []
    for name in args.files:
        transcript, _ = engine.run(decode(Path(name), name))
        results.append(
            {
                "file": name,
                "text": transcript.text,
                "audio_s": transcript.audio_sec,
                "processing_s": transcript.processing_sec,
            }
        )
        if not args.json:
            print(f"{name}: {transcript.text}", flush=True)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from salescontrol.migrate import SQL_DIR

    parser = argparse.ArgumentParser(
        prog="python -m salescontrol",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="apply SQL migrations to DATABASE_URL")
    p.add_argument("--sql-dir", default=str(SQL_DIR), help="folder of NNN_*.sql files")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("local", help="run the local cloud stack until Ctrl-C")
    p.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port of the ingest function (default 8000, 0 = any free port)",
    )
    p.add_argument(
        "--workdir",
        default=".salescontrol-local",
        help="folder for logs, env.sh and object data; wiped at start",
    )
    p.set_defaults(func=cmd_local)

    p = sub.add_parser("transcribe", help="transcribe audio files (WHISPER_* settings)")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (ogg/opus, wav, ...)")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.set_defaults(func=cmd_transcribe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except SalesControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
