"""`python -m salescontrol COMMAND`: one entry for every command-line job.

migrate     apply the SQL migrations of sql/ to DATABASE_URL
local       run the whole cloud side on this machine until Ctrl-C
analyze     upsell analysis of a transcript text file (LLM or rules), as the function does
sweep       one sweeper tick: close dialogues of quiet devices, re-queue stuck work
receipts    `receipts import FILE`: a point's fiscal receipts (JSON list or lines) to the API
erase       erase a dialogue, a device's time range or everything before a date (logged)
dashboard   serve the Panel dashboard (DATABASE_URL; its own users: `dashboard users add ...`)
transcribe  transcribe audio files with the ASR worker's models and settings
demo        the whole pipeline on the bundled shop recording, a summary and the dashboard
eval        run a recording through the pipeline and score it against its ground truth
soak        load, fault and bad-input run against a fresh local stack; checks the invariants

migrate, analyze, sweep, receipts and erase are production jobs and live here; the others
belong to the dev kit (`devkit.commands`), which this module loads by name when the checkout
has it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from salescontrol.errors import SalesControlError

# The one place the core names the dev kit: loaded by name, never imported, so a
# deployed function (which ships without it) has the production commands only.
DEV_COMMANDS_MODULE = "devkit.commands"
# `--help` order: production and dev commands interleaved as users know them.
ORDER = ["migrate", "local", "analyze", "sweep", "receipts", "erase", "dashboard"]
ORDER += ["transcribe", "demo", "eval", "soak"]


def cmd_migrate(args: argparse.Namespace) -> int:
    from salescontrol import db, migrate

    applied = migrate.migrate(db.engine(), Path(args.sql_dir))
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


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


def cmd_receipts(args: argparse.Namespace) -> int:
    import json
    import urllib.error
    import urllib.request

    from salescontrol.config import settings
    from salescontrol.errors import BadInput

    url = settings().require("ingest_url").rstrip("/") + "/api/v1/receipts"
    headers = {"Authorization": f"Bearer {settings().require('receipts_token')}"}
    try:
        text = Path(args.file).read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read {args.file} as a JSON list or JSON lines: {exc}") from None
    totals = {"stored": 0, "duplicates": 0, "unassigned": 0, "rejected": []}
    for first in range(0, len(records), args.batch):
        end = min(first + args.batch, len(records))
        body = json.dumps({"receipts": records[first:end]}, ensure_ascii=False).encode()
        request = urllib.request.Request(url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                outcome = json.load(answer)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            detail = exc.read().decode(errors="replace") if hasattr(exc, "read") else exc
            print(json.dumps(totals, ensure_ascii=False, indent=2))
            print(f"error: receipts {first}..{end - 1}: {detail} (re-run: posting is idempotent)")
            return 1
        for key in ("stored", "duplicates", "unassigned"):
            totals[key] += outcome[key]
        totals["rejected"] += [{**r, "index": r["index"] + first} for r in outcome["rejected"]]
    print(json.dumps(totals, ensure_ascii=False, indent=2))
    return 1 if totals["rejected"] else 0


def cmd_erase(args: argparse.Namespace) -> int:
    import json

    from salescontrol import erasure
    from salescontrol.db import transaction

    kind = erasure.DIALOGUE if args.dialogue else erasure.BEFORE if args.before else "device"
    scope = erasure.Scope(kind, args.dialogue, args.device, args.from_at, args.to_at or args.before)
    with transaction() as conn:
        job = erasure.latest(conn) if args.list else erasure.request(conn, scope, args.by, None)
    if not args.list:  # the same command after a crash (or the sweeper) goes on with it
        job = erasure.run(job["erasure_id"])
    print(json.dumps(job, ensure_ascii=False, indent=2, default=str))
    return 0


def add_erase(sub: argparse._SubParsersAction) -> None:
    import getpass
    import socket
    import uuid
    from datetime import UTC, datetime

    def moment(text: str) -> datetime:  # ISO 8601, UTC unless it says otherwise
        value = datetime.fromisoformat(text)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    p = sub.add_parser("erase", help="erase a dialogue, a device's time range or all before")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dialogue", type=uuid.UUID, metavar="ID", help="one dialogue")
    what.add_argument("--device", type=uuid.UUID, metavar="ID", help="with --from and --to")
    what.add_argument("--before", type=moment, metavar="TIME", help="everything before TIME")
    what.add_argument("--list", action="store_true", help="print the erasure log")
    p.add_argument("--from", dest="from_at", type=moment, metavar="TIME")
    p.add_argument("--to", dest="to_at", type=moment, metavar="TIME")
    p.add_argument("--by", default=f"{getpass.getuser()}@{socket.gethostname()}", help="who")
    p.set_defaults(func=cmd_erase)


def add_migrate(sub: argparse._SubParsersAction) -> None:
    from salescontrol.migrate import SQL_DIR

    p = sub.add_parser("migrate", help="apply SQL migrations to DATABASE_URL")
    p.add_argument("--sql-dir", default=str(SQL_DIR), help="folder of NNN_*.sql files")
    p.set_defaults(func=cmd_migrate)


def add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="upsell analysis of a transcript text file")
    p.add_argument("file", metavar="FILE", help="UTF-8 text file with the transcript")
    p.add_argument("--rules", action="store_true", help="use the rules analyzer (no network)")
    p.add_argument("--json", action="store_true", help="print the result object as JSON")
    p.set_defaults(func=cmd_analyze)


def add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="one sweeper tick against DATABASE_URL and the bucket")
    p.set_defaults(func=cmd_sweep)


def add_receipts(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("receipts", help="import a point's fiscal receipts through the ingest API")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("import", help="post FILE (INGEST_URL, RECEIPTS_TOKEN)")
    p.add_argument("file", metavar="FILE", help="receipts: a JSON list, or one JSON per line")
    p.add_argument("--batch", type=int, default=50, help="receipts per request (default 50)")
    p.set_defaults(func=cmd_receipts)


PRODUCTION_COMMANDS = {"migrate": add_migrate, "analyze": add_analyze, "sweep": add_sweep}
PRODUCTION_COMMANDS["receipts"] = add_receipts
PRODUCTION_COMMANDS["erase"] = add_erase


def _dev_commands() -> dict:
    """The dev kit's commands, or none where it is not installed (a deployed function)."""
    try:
        module = importlib.import_module(DEV_COMMANDS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != DEV_COMMANDS_MODULE.split(".")[0]:
            raise
        return {}
    return module.COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m salescontrol",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = {**PRODUCTION_COMMANDS, **_dev_commands()}
    for name in sorted(commands, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        commands[name](sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.func(args)
    except SalesControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
