"""What `python -m salescontrol demo` and `eval` print: the summary, the scores, the dashboard."""

from __future__ import annotations

import importlib.util
import socket
import time
from datetime import datetime
from typing import Any

from devkit import evaluation
from devkit.local.stack import LocalStack, free_port
from devkit.pipeline_run import DialogueResult, Run
from salescontrol.dialogues import AnalysisStatus, AsrStatus

DASHBOARD_START_SEC = 90.0
DIGEST_TIMEOUT_SEC = 120.0
_ANSWER = {True: "да", False: "нет", None: "—"}


def _quote(result: DialogueResult, width: int = 90) -> str:
    """The offer's words if the analyzer quoted them, else the transcript's start."""
    line = next((o.get("quote") for o in result.offers if o.get("quote")), None)
    line = line or result.text or ""
    return line if len(line) <= width else line[: width - 1] + "…"


def summary(results: list[DialogueResult]) -> str:
    """A table of the dialogues and the upsell figures, with examples."""
    lines = [
        "",
        f"{'#':>2}  {'time':>11}  {'status':<8} {'sale':<4} {'upsell':<6} {'accepted':<8} "
        f"{'receipt':<16} text",
    ]
    for n, r in enumerate(results, start=1):
        span = f"{_clock(r.start_s)}–{_clock(r.end_s)}"
        status = r.analysis_status if r.asr_status != AsrStatus.FAILED else "ASR FAIL"
        lines.append(
            f"{n:>2}  {span:>11}  {status:<8} {_ANSWER[r.is_sales_dialogue]:<4} "
            f"{_ANSWER[r.attempted]:<6} {_ANSWER[r.accepted if r.attempted else None]:<8} "
            f"{_receipt(r):<16} {_quote(r, 50)}"
        )
    sales = [r for r in results if r.is_sales_dialogue]
    attempted = [r for r in sales if r.attempted]
    accepted = [r for r in attempted if r.accepted]
    rate = f"{len(attempted) / len(sales):.0%}" if sales else "—"
    lines += [
        "",
        f"dialogues: {len(results)} · sales: {len(sales)} · upsell attempted: {len(attempted)}"
        f" (rate {rate}) · accepted: {len(accepted)}",
    ]
    examples = [
        ("upsell accepted", next((r for r in attempted if r.accepted), None)),
        ("upsell refused", next((r for r in attempted if r.accepted is False), None)),
        ("sale without upsell", next((r for r in sales if not r.attempted), None)),
    ]
    for label, example in examples:
        if example is not None:
            lines.append(f"  {label + ':':<21} «{_quote(example)}»")
    lines += _receipt_lines(results)
    return "\n".join(lines)


def _confirmed(result: DialogueResult) -> list[dict]:
    return [c for c in result.receipt_check if c.get("status") == "confirmed"]


def _rub(kopecks: int) -> str:
    return f"{kopecks / 100:.0f} ₽"


def _receipt(result: DialogueResult) -> str:
    """The dialogue's receipt: its total, and what of it the upsell brought."""
    if result.receipt_number is None:
        return "—"
    upsold = sum(c.get("amount") or 0 for c in _confirmed(result))
    return _rub(result.receipt_total or 0) + (f" (+{_rub(upsold)})" if upsold else "")


def _receipt_lines(results: list[DialogueResult]) -> list[str]:
    """The receipts' figures, when the run had receipts."""
    linked = [r for r in results if r.receipt_number is not None]
    if not linked:
        return []
    confirmed = [c for r in linked for c in _confirmed(r)]
    revenue = sum(c.get("amount") or 0 for c in confirmed)
    examples = [f"{c['product']} → {c['name']} +{_rub(c['amount'])}" for c in confirmed[:3]]
    return [
        f"receipts linked to dialogues: {len(linked)} · upsells confirmed by the receipt: "
        f"{len(confirmed)} (+{_rub(revenue)})",
        *(f"  confirmed: {line}" for line in examples),
    ]


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _roles(result: DialogueResult) -> tuple[evaluation.Turn, ...]:
    """The dialogue's transcript segments that carry a role, on the recording's time."""
    origin = result.audio_origin_s()
    return tuple(
        evaluation.Turn(origin + s["start"], origin + s["end"], s["role"], s.get("text", ""))
        for s in result.segments
        if s.get("role") in evaluation.ROLES and s["end"] > s["start"]
    )


def found_list(found: list[evaluation.FoundDialogue]) -> list[dict[str, Any]]:
    """What the pipeline found, for `eval --json` (times from the recording's start)."""
    return [
        {
            "start": round(f.start, 2),
            "end": round(f.end, 2),
            "text": f.text,
            "attempted": f.attempted,
            "accepted": f.accepted,
            "roles": [
                {"start": round(r.start, 2), "end": round(r.end, 2), "role": r.role, "text": r.text}
                for r in f.roles
            ],
        }
        for f in found
    ]


def evaluate(run: Run, truth: evaluation.Truth) -> dict[str, Any]:
    """The evaluation's JSON object for a finished run."""
    results = run.results()
    found = [
        evaluation.FoundDialogue(
            start=r.start_s,
            end=r.end_s,
            text=r.text,
            # a SKIPPED or FAILED analysis made no claim either way
            attempted=r.attempted if r.analysis_status == AnalysisStatus.DONE else None,
            accepted=r.accepted if r.analysis_status == AnalysisStatus.DONE else None,
            latency_s=r.latency_s,
            # eval posts the truth's receipt i with fiscalDocumentNumber i + 1
            receipt=None if r.receipt_number is None else r.receipt_number - 1,
            confirmed=bool(_confirmed(r)),
            roles=_roles(r),
        )
        for r in results
    ]
    wall = run.wall_seconds()
    analyzers = sorted({r.analyzer for r in results if r.analyzer})
    scores = {
        **evaluation.score(truth, found),
        "audio_minutes_per_minute": (
            evaluation.audio_minutes_per_minute(run.audio_sec, wall) if wall else None
        ),
        "chunks_expected": run.chunks_expected,
        "chunks_done": run.progress.chunks_done,
        "chunks_rejected": run.progress.chunks_rejected,
        "analyzer": ",".join(analyzers) or None,
        "replay_speed": run.speed,
        "chunk_sec": run.chunk_sec,
        "audio_sec": round(run.audio_sec, 2),
        "elapsed_sec": round(run.elapsed_sec, 1),
        "timed_out": run.timed_out,
    }
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}
    return {**rounded, "found": found_list(found)}


def scores_table(scores: dict[str, Any]) -> str:
    """The evaluation object as aligned `name  value` lines."""

    def show(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    figures = {k: v for k, v in scores.items() if not isinstance(v, list)}
    width = max(map(len, figures))
    return "\n".join(f"  {name:<{width}}  {show(value)}" for name, value in figures.items())


def dashboard_available() -> bool:
    """Whether this checkout has the dashboard package."""
    return importlib.util.find_spec("dashboard") is not None


DEMO_OWNER = "owner"


def dashboard_owner(stack: LocalStack) -> str:
    """Create the demo's dashboard owner with a fresh password; "name / password"."""
    import secrets

    import sqlalchemy as sa

    from dashboard import users
    from salescontrol import db

    password = secrets.token_urlsafe(12)
    with db.engine(stack.env["DATABASE_URL"]).begin() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM dashboard_users WHERE lower(name) = :n"), {"n": DEMO_OWNER}
        ).first()
        if exists:
            users.set_password(conn, DEMO_OWNER, password)
        else:
            users.add(conn, DEMO_OWNER, users.Role.OWNER, password, [])
    return f"{DEMO_OWNER} / {password}"


DEMO_EMAIL, DEMO_CHAT = "owner@salescontrol.local", "100500"


def send_digest(stack: LocalStack) -> str:
    """Have the digest function send today's digest to the demo's owner by e-mail and
    Telegram (the stack's SMTP server and Telegram stand-in), as Cloud Scheduler has it
    send yesterday's each morning; what went where, for the summary."""
    from zoneinfo import ZoneInfo

    import requests

    from dashboard import digests
    from salescontrol import db
    from salescontrol.config import load

    with db.engine(stack.env["DATABASE_URL"]).begin() as conn:
        digests.set_channels(conn, DEMO_OWNER, DEMO_EMAIL, DEMO_CHAT)
    day = datetime.now(ZoneInfo(load().dashboard_timezone)).date()
    answer = requests.post(
        stack.url("digest") + "/", json={"day": day.isoformat()}, timeout=DIGEST_TIMEOUT_SEC
    )
    json_answer = answer.headers.get("Content-Type", "").startswith("application/json")
    body = answer.json() if json_answer else {}
    lines = [f"digest for {day:%d.%m.%Y} (the digest function; in the cloud each morning):"]
    mail, telegram = stack.workdir / "mail", stack.workdir / "telegram"
    newest = {
        "email": max(mail.glob("*.eml"), default=None),
        "telegram": max(telegram.glob("*.json"), default=None),
    }
    for sent in body.get("sent", []):
        kept = newest[sent["channel"]]
        if sent["channel"] == "email":
            lines.append(
                f"  e-mail    {sent['to']} via SMTP 127.0.0.1:{stack.ports['mail']} -> {kept}"
            )
        else:
            lines.append(
                f"  Telegram  chat {sent['to']} via the Bot API stand-in "
                f"{stack.url('telegram')} -> {kept}"
            )
    for failed in body.get("failed", []):
        lines.append(f"  {failed['channel']} to {failed['to']} failed: {failed['reason']}")
    if not body.get("sent") and not body.get("failed"):
        lines.append(f"  nothing sent: {answer.status_code} {answer.text[:300]}")
    return "\n".join(lines)


def start_dashboard(stack: LocalStack) -> str | None:
    """Serve the dashboard on the stack's database; its URL, or None if it did not come up."""
    port = stack.ports.get("dashboard") or free_port()  # where the digest's links point
    log = stack.spawn_deployable("dashboard", "dashboard", ["--port", str(port)])
    deadline = time.monotonic() + DASHBOARD_START_SEC
    while time.monotonic() < deadline:
        stack.check_alive()
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return f"http://127.0.0.1:{port}/"
        time.sleep(0.5)
    print(f"the dashboard did not answer in {DASHBOARD_START_SEC:.0f} s; see {log}")
    return None
