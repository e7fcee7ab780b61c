"""The development commands of `python -m salescontrol`: the local stack, the demo, the
evaluation, the soak run, and the deployables' own commands run from a checkout.

`salescontrol.cli` adds these to its parser when the dev kit is present (a checkout, not
a deployed function). Every import of real work happens inside the command.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from devkit.paths import DEMO_AUDIO


class _Stop(Exception):
    """Raised from SIGTERM/SIGINT handlers to unwind into cleanup."""


def _raise_stop(signum: int, frame: object) -> None:
    # Further signals are ignored: the cleanup this unwinds into must run to its end.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """Inside the block SIGTERM and SIGINT raise _Stop; after it they are ignored."""
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def cmd_local(args: argparse.Namespace) -> int:
    from devkit.local.stack import LocalStack

    stack = LocalStack(Path(args.workdir), ingest_port=args.port, packaged=args.packaged)
    try:
        with _stop_on_signals():
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
        stack.stop()
        print("local stack stopped", flush=True)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from dashboard.__main__ import run

    return run(args)


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


def cmd_demo(args: argparse.Namespace) -> int:
    from devkit import demo, evaluation, pipeline_run

    # The recording's receipts, when its truth lies beside it (the bundled one's does).
    truth = Path(args.audio).with_suffix(".truth.json")
    receipts = evaluation.load_truth(truth).receipts if truth.is_file() else ()
    try:
        with (
            _stop_on_signals(),
            pipeline_run.pipeline(
                Path(args.audio),
                Path(args.workdir),
                speed=args.speed,
                timeout=args.timeout,
                port=args.port,
                packaged=args.packaged,
                receipts=receipts,
            ) as run,
        ):
            print(demo.summary(run.results()), flush=True)
            if run.timed_out:
                print(f"\nwarning: not finished after {args.timeout:g} s: {run.progress.line()}")
            login = demo.dashboard_owner(run.stack) if demo.dashboard_available() else None
            if login:  # the digest goes to a dashboard user
                print("\n" + demo.send_digest(run.stack), flush=True)
            if args.exit:
                return 1 if run.timed_out else 0
            if login:
                url = demo.start_dashboard(run.stack)
                if url:
                    print(f"\ndashboard: {url}  (login: {login})")
            else:
                print("\ndashboard: not in this checkout")
            print(f"environment: source {Path(args.workdir) / 'env.sh'}", flush=True)
            print("\nThe stack stays up. Press Ctrl-C to stop.", flush=True)
            while True:
                run.stack.check_alive()
                time.sleep(0.5)
    except _Stop:
        print("\nstopping ...", flush=True)
        return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from devkit import demo, evaluation, pipeline_run

    truth = evaluation.load_truth(Path(args.truth))  # a bad truth fails before any work

    def echo(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    try:
        with (
            _stop_on_signals(),
            pipeline_run.pipeline(
                Path(args.audio),
                Path(args.workdir) if args.workdir else None,
                speed=args.speed,
                timeout=args.timeout,
                echo=echo,
                packaged=args.packaged,
                receipts=truth.receipts,
            ) as run,
        ):
            scores = demo.evaluate(run, truth)
    except _Stop:
        echo("stopped")
        return 130
    if args.json:
        print(json.dumps(scores, ensure_ascii=False))
    else:
        print(demo.scores_table(scores))
    return 1 if scores["timed_out"] else 0


def cmd_soak(args: argparse.Namespace) -> int:
    import json

    from devkit.soak import runner

    report = runner.run(runner.options_from(args))
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2, default=str))
    print(json.dumps({"figures": report.figures, "components": report.components}, indent=2))
    for check in report.checks:
        print(f"{check.status:<12} {check.name}" + (f"  ({check.detail})" if check.detail else ""))
    print(f"{len(report.faults)} faults injected; invariants {'hold' if report.ok else 'BROKEN'}")
    return 0 if report.ok else 1


def _add_packaged(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--packaged",
        action="store_true",
        help="run every function, the ASR worker and the dashboard from what deploys (the "
        "archive Terraform builds, the image's files), each in a venv made from its own "
        "requirements.txt (cached by its hash in ~/.cache/salescontrol/venvs)",
    )


def _add_run_options(p: argparse.ArgumentParser, speed: float) -> None:
    p.add_argument(
        "--speed",
        type=float,
        default=speed,
        help=f"replay speed, times real time (default {speed:g}; 0 = as fast as possible)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="give up waiting for the pipeline after this many seconds (default 900)",
    )


def add_local(sub: argparse._SubParsersAction) -> None:
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
    _add_packaged(p)
    p.set_defaults(func=cmd_local)


def add_dashboard(sub: argparse._SubParsersAction) -> None:
    from dashboard.__main__ import add_options

    p = sub.add_parser("dashboard", help="serve the dashboard until Ctrl-C")
    add_options(p)
    p.set_defaults(func=cmd_dashboard)


def add_transcribe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="transcribe audio files (WHISPER_* settings)")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (ogg/opus, wav, ...)")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.set_defaults(func=cmd_transcribe)


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole pipeline on the bundled shop recording")
    p.add_argument("--exit", action="store_true", help="stop the stack when done")
    p.add_argument("--audio", default=str(DEMO_AUDIO), help="recording to replay")
    p.add_argument("--port", type=int, default=0, help="port of the ingest function (0 = any)")
    p.add_argument(
        "--workdir",
        default=".salescontrol-demo",
        help="folder for logs, env.sh, object data and the recorder's spool; wiped at start",
    )
    _add_run_options(p, speed=10.0)
    _add_packaged(p)
    p.set_defaults(func=cmd_demo)


def add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a recording's trip through the pipeline")
    p.add_argument("audio", metavar="AUDIO", help="recording (ogg/opus, wav, ...)")
    p.add_argument("truth", metavar="TRUTH", help="its ground truth JSON")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--workdir", help="keep the stack's logs and data here (wiped at start)")
    _add_run_options(p, speed=10.0)
    _add_packaged(p)
    p.set_defaults(func=cmd_eval)


def add_soak(sub: argparse._SubParsersAction) -> None:
    from devkit.soak.options import add_arguments

    p = sub.add_parser("soak", help="load/fault/bad-input run on a fresh local stack")
    add_arguments(p)
    p.add_argument("--json", metavar="FILE", help="write the whole report as JSON")
    p.set_defaults(func=cmd_soak)


# Command name -> the function that adds it to the parser, in `--help` order.
COMMANDS = {
    "local": add_local,
    "dashboard": add_dashboard,
    "transcribe": add_transcribe,
    "demo": add_demo,
    "eval": add_eval,
    "soak": add_soak,
}
