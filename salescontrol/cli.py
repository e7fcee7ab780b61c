"""`python -m salescontrol COMMAND`: one entry for every command-line job.

migrate   apply the SQL migrations of sql/ to DATABASE_URL
local     run the whole cloud side on this machine until Ctrl-C
analyze   upsell analysis of a transcript text file (LLM or rules), as the function does
soak      load, fault and bad-input run against a fresh local stack; checks the invariants
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
