"""`python -m salescontrol COMMAND`: one entry for every command-line job.

migrate     apply the SQL migrations of sql/ to DATABASE_URL
local       run the whole cloud side on this machine until Ctrl-C
analyze     upsell analysis of a transcript text file (LLM or rules), as the function does
sweep       one sweeper tick: close dialogues of quiet devices, re-queue stuck work
dashboard   serve the Panel dashboard (DATABASE_URL, ADMIN_TOKEN login)
transcribe  transcribe audio files with the ASR worker's models and settings
demo        the whole pipeline on the bundled shop recording, a summary and the dashboard
eval        run a recording through the pipeline and score it against its ground truth
    soak        load, fault and bad-input run against a fresh local stack; checks the invariants
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from salescontrol.errors import SalesControlError


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


def cmd_migrate(args: argparse.Namespace) -> int:
    from salescontrol import db, migrate

    applied = migrate.migrate(db.engine(), Path(args.sql_dir))
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    from salescontrol.local.stack import LocalStack

    stack = LocalStack(Path(args.workdir), ingest_port=args.port)
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


def cmd_analyze(args: argparse.Namespace) -> int:
    import json

    from salescontrol.analysis import service
    from salescontrol.config import settings

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        result = service.analyze_text(text, settings(), "rules" if args.rules else None)
    except service.Skipped as exc:
        print(
            json.dumps({"skipped": str(exc)}, ensure_ascii=False)
            if args.json
            else f"skipped: {exc}"
        )
        return 0
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        return 0
    answers = {True: "да", False: "нет", None: "неясно"}
    print(f"analyzer:         {result.analyzer} ({result.model or result.prompt_version})")
    print(f"sales dialogue:   {answers[result.is_sales_dialogue]}")
    print(f"upsell attempted: {answers[result.upsell_attempted]}")
    for offer in result.offers:
        print(f"  offer: {offer.product} (accepted: {answers[offer.accepted]})")
    print(f"accepted:         {answers[result.customer_accepted]}")
    print(f"quality score:    {result.quality_score}/10")
    print(f"summary:          {result.summary}")
    print(f"recommendation:   {result.recommendation}")
    if result.analyzer == "llm":
        tokens = f"{result.prompt_tokens} + {result.completion_tokens}"
        print(f"tokens:           {tokens}, ~${result.cost_usd}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from salescontrol.sweeper import sweep

    print(json.dumps(dataclasses.asdict(sweep())))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from dashboard.app import serve
    from salescontrol.config import settings

    # Bokeh's own variable names the hosts a browser may open the websocket from.
    origins = args.allow_websocket_origin or [
        o for o in os.environ.get("BOKEH_ALLOW_WS_ORIGIN", "").split(",") if o
    ]
    serve(args.port or settings().dashboard_port, args.address, origins or None)
    return 0


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
    from salescontrol import demo, pipeline_run

    try:
        with (
            _stop_on_signals(),
            pipeline_run.pipeline(
                Path(args.audio),
                Path(args.workdir),
                speed=args.speed,
                timeout=args.timeout,
                port=args.port,
            ) as run,
        ):
            print(demo.summary(run.results()), flush=True)
            if run.timed_out:
                print(f"\nwarning: not finished after {args.timeout:g} s: {run.progress.line()}")
            if args.exit:
                return 1 if run.timed_out else 0
            if demo.dashboard_available():
                url = demo.start_dashboard(run.stack)
                if url:
                    print(f"\ndashboard: {url}  (login: ADMIN_TOKEN={run.stack.admin_token})")
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

    from salescontrol import demo, evaluation, pipeline_run

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


def cmd_soak(args: argparse.Namespace) -> int:
    import json

    from salescontrol.soak import runner

    report = runner.run(runner.options_from(args))
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2, default=str))
    print(json.dumps({"figures": report.figures, "components": report.components}, indent=2))
    for check in report.checks:
        print(f"{check.status:<12} {check.name}" + (f"  ({check.detail})" if check.detail else ""))
    print(f"{len(report.faults)} faults injected; invariants {'hold' if report.ok else 'BROKEN'}")
    return 0 if report.ok else 1


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

    p = sub.add_parser("analyze", help="upsell analysis of a transcript text file")
    p.add_argument("file", metavar="FILE", help="UTF-8 text file with the transcript")
    p.add_argument("--rules", action="store_true", help="use the rules analyzer (no network)")
    p.add_argument("--json", action="store_true", help="print the result object as JSON")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("sweep", help="one sweeper tick against DATABASE_URL and the bucket")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("dashboard", help="serve the dashboard until Ctrl-C")
    p.add_argument("--port", type=int, default=0, help="port (default DASHBOARD_PORT)")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on")
    p.add_argument(
        "--allow-websocket-origin",
        action="append",
        help="host[:port] the browser reaches the dashboard at (repeatable; default localhost)",
    )
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("transcribe", help="transcribe audio files (WHISPER_* settings)")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (ogg/opus, wav, ...)")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.set_defaults(func=cmd_transcribe)

    from salescontrol.pipeline_run import DEMO_AUDIO

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
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("eval", help="score a recording's trip through the pipeline")
    p.add_argument("audio", metavar="AUDIO", help="recording (ogg/opus, wav, ...)")
    p.add_argument("truth", metavar="TRUTH", help="its ground truth JSON")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--workdir", help="keep the stack's logs and data here (wiped at start)")
    _add_run_options(p, speed=10.0)
    p.set_defaults(func=cmd_eval)

    from salescontrol.soak.runner import add_arguments

    p = sub.add_parser("soak", help="load/fault/bad-input run on a fresh local stack")
    add_arguments(p)
    p.add_argument("--json", metavar="FILE", help="write the whole report as JSON")
    p.set_defaults(func=cmd_soak)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except SalesControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
