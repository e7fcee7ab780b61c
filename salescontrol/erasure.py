"""Erasing recorded people's data: a dialogue, a device's time range or everything before
a date (rows and bucket objects), and the sweeper's transcript retention.

An erasure is a row of `erasures` (what, by whom, when, what it removed), made PENDING by
`request()` (`python -m salescontrol erase`, the admin API) and carried out by `run()` in
batches: objects first, then the rows naming them, each batch committed with its counts.
A crash leaves it PENDING with what was done gone; the next run (the command again, or
the sweeper's next tick) goes on from there, and an object already gone is no error. So a
repeated or resumed erasure ends as one clean pass would.

What goes: dialogues with their transcript, analysis and audio; the raw chunk objects
overlapping the scope (every upload of each) and their speech segments. A chunk's row
stays as a tombstone (`erased_at`; times, size and hash, no audio): a device announcing
it again is told to delete its copy, and vad never processes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from google.api_core import exceptions as gexc
from sqlalchemy.engine import Connection

from salescontrol import storage
from salescontrol.chunks import ChunkStatus, chunk_object_name
from salescontrol.config import settings
from salescontrol.db import advisory_key, engine, transaction
from salescontrol.errors import BadInput, Conflict, NotFound, TransientError

log = logging.getLogger(__name__)

BATCH = 100
RUNNER = "erasures"  # the sweeper's lock: one sweeper at a time carries erasures out
DIALOGUE, DEVICE, BEFORE, RETENTION = "dialogue", "device", "before", "retention"
_DIALOGUES = {
    DIALOGUE: "dialogue_id = :dialogue_id",
    DEVICE: "device_id = :device_id AND started_at < :to_at AND ended_at > :from_at",
    BEFORE: "started_at < :to_at",
}
_OVERLAP = "started_at < :to_at AND started_at + duration_sec * interval '1 second' > :from_at"
_CHUNKS = {DIALOGUE: f"device_id = :device_id AND {_OVERLAP}", BEFORE: "started_at < :to_at"}
_CHUNKS[DEVICE] = _CHUNKS[DIALOGUE]
_FACTS = ("dialogue_id", "device_id", "from_at", "to_at")


def _q(conn: Connection, sql: str, **params: Any) -> sa.CursorResult:
    return conn.execute(sa.text(sql), params)


@dataclass(frozen=True)
class Scope:
    """What to erase: one dialogue, a device between two times, or all before `to_at`."""

    kind: str
    dialogue_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    from_at: datetime | None = None
    to_at: datetime | None = None

    def check(self) -> None:
        need = {DIALOGUE: ("dialogue_id",), DEVICE: ("device_id", "from_at", "to_at")}
        for name in need.get(self.kind, ("to_at",)):
            if getattr(self, name) is None:
                raise BadInput(f"erasing by {self.kind} needs {name}", name)
        if self.from_at and self.from_at >= self.to_at:
            raise BadInput("from_at must be before to_at", "from_at")


def request(
    conn: Connection, scope: Scope, by: str, reason: str | None, erasure_id: Any = None
) -> dict[str, Any]:
    """The erasure of `scope`: made PENDING, or the one already asked for (the same id,
    the same dialogue, or the same unfinished scope; `new` says which)."""
    scope.check()
    if scope.kind == DIALOGUE:  # its device and span, kept for the chunks after it is gone
        sql = "SELECT device_id, started_at, ended_at FROM dialogues WHERE dialogue_id = :d"
        if found := _q(conn, sql, d=scope.dialogue_id).first():
            scope = Scope(DIALOGUE, scope.dialogue_id, *found)
    facts = {k: getattr(scope, k) for k in _FACTS}
    same = " AND ".join(f"{k} IS NOT DISTINCT FROM :{k}" for k in facts)
    existing = _q(
        conn,
        f"SELECT * FROM erasures WHERE erasure_id = :id OR (scope = :kind AND (({same} AND "
        "status = 'PENDING') OR (scope = 'dialogue' AND dialogue_id = :dialogue_id))) "
        "ORDER BY erasure_id = :id DESC LIMIT 1 FOR UPDATE",
        id=erasure_id,
        kind=scope.kind,
        **facts,
    ).first()
    if existing is not None:
        compared = ("dialogue_id",) if scope.kind == DIALOGUE else _FACTS
        if existing.scope != scope.kind or any(getattr(existing, k) != facts[k] for k in compared):
            raise Conflict(f"erasure {erasure_id} was asked for another scope", "erasure_id")
        return {**dict(existing._mapping), "new": False}
    if scope.kind == DIALOGUE and scope.device_id is None:
        raise NotFound(f"dialogue {scope.dialogue_id} does not exist", "dialogue_id")
    row = _log(conn, id=erasure_id or uuid.uuid4(), kind=scope.kind, by=by, reason=reason, **facts)
    log.warning("erasure requested", extra=row)
    return {**row, "new": True}


def _log(conn: Connection, **values: Any) -> dict[str, Any]:
    """Insert one erasure row (PENDING unless `status` says otherwise)."""
    values = {**dict.fromkeys(_FACTS), "reason": None, "status": "PENDING", **values}
    row = _q(
        conn,
        "INSERT INTO erasures (erasure_id, scope, dialogue_id, device_id, from_at, to_at, "
        "requested_by, reason, status, counts, finished_at) VALUES (:id, :kind, :dialogue_id, "
        ":device_id, :from_at, :to_at, :by, :reason, :status, CAST(:counts AS jsonb), "
        "CASE WHEN :status = 'DONE' THEN now() END) RETURNING *",
        **{**values, "counts": json.dumps(values.get("counts", {}))},
    ).one()
    return dict(row._mapping)


def latest(conn: Connection, erasure_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The erasure log, newest first (the last 100), or the one erasure asked for."""
    where = "WHERE erasure_id = :id" if erasure_id else ""
    sql = f"SELECT * FROM erasures {where} ORDER BY requested_at DESC LIMIT 100"
    rows = [dict(r._mapping) for r in _q(conn, sql, id=erasure_id)]
    if erasure_id and not rows:
        raise NotFound(f"erasure {erasure_id} does not exist", "erasure_id")
    return rows


@contextlib.contextmanager
def _running(name: str) -> Iterator[bool]:
    """Whether this process holds the lock `name` now (an erasure has one runner at a
    time; the lock goes with the connection if the runner dies)."""
    conn = engine().connect()
    try:
        yield bool(_q(conn, "SELECT pg_try_advisory_xact_lock(:k)", k=advisory_key(name)).scalar())
    finally:
        with contextlib.suppress(sa.exc.DBAPIError):
            conn.rollback()
        conn.close()


def _delete_objects(names: list[str]) -> int:
    deleted = 0
    for name in names:
        try:
            storage.bucket().blob(name).delete()
            deleted += 1
        except gexc.NotFound:
            pass  # gone already: a resumed erasure, or the bucket's lifecycle
        except gexc.GoogleAPIError as exc:
            raise TransientError(f"deleting {name}: {exc}") from exc
    return deleted


def _uploads(row: sa.Row) -> list[str]:
    """Every object a chunk was uploaded to (a resend goes to `<name>.rN.ogg`)."""
    stem = chunk_object_name(row.device_id, row.started_at, row.chunk_id, row.codec)
    try:
        return [b.name for b in storage.bucket().list_blobs(prefix=stem.rpartition(".")[0])]
    except gexc.GoogleAPIError as exc:
        raise TransientError(f"listing {stem}: {exc}") from exc


def _count(conn: Connection, erasure_id: Any, counts: dict[str, int]) -> None:
    """Add `counts` to the erasure's (in the batch's transaction)."""
    _q(
        conn,
        "UPDATE erasures SET updated_at = now(), counts = (SELECT jsonb_object_agg(key, n) "
        "FROM (SELECT key, sum(CAST(value AS int)) AS n FROM (SELECT * FROM jsonb_each_text("
        "counts) UNION ALL SELECT * FROM jsonb_each_text(CAST(:c AS jsonb))) a GROUP BY key) b) "
        "WHERE erasure_id = :id",
        c=json.dumps(counts),
        id=erasure_id,
    )


def _step(job: sa.Row) -> int:
    """Erase one batch of the job's dialogues, else of its chunks; rows erased."""
    facts = {k: getattr(job, k) for k in _FACTS}
    with transaction() as conn:
        sql = f"SELECT dialogue_id, audio_object FROM dialogues WHERE {_DIALOGUES[job.scope]}"
        rows = _q(conn, sql + " LIMIT :n", n=BATCH, **facts).all()
    if rows:
        counts = {
            "dialogue_objects": _delete_objects([r.audio_object for r in rows if r.audio_object])
        }
        with transaction() as conn:
            for table in ("dialogue_transcripts", "dialogue_upsell_analysis", "dialogues"):
                sql = f"DELETE FROM {table} WHERE dialogue_id = ANY(:ids)"
                counts[table] = _q(conn, sql, ids=[r.dialogue_id for r in rows]).rowcount
            _count(conn, job.erasure_id, counts)
        return len(rows)
    with transaction() as conn:
        sql = "SELECT chunk_id, device_id, started_at, codec FROM audio_chunks WHERE "
        rows = _q(
            conn, sql + f"erased_at IS NULL AND {_CHUNKS[job.scope]} LIMIT :n", n=BATCH, **facts
        ).all()
    if not rows:
        return 0
    objects = sum(_delete_objects(_uploads(r)) for r in rows)
    ids = [r.chunk_id for r in rows]
    with transaction() as conn:
        sql = "DELETE FROM speech_segments WHERE chunk_id = ANY(:ids)"
        segments = _q(conn, sql, ids=ids).rowcount
        # Voice embeddings and dropped background speech go with the audio they came from.
        for table in ("speech_windows", "background_speech"):
            _q(conn, f"DELETE FROM {table} WHERE chunk_id = ANY(:ids)", ids=ids)
        # A tombstone; unfinished chunks end REJECTED, so no stage owes them work any more.
        _q(
            conn,
            "UPDATE audio_chunks SET erased_at = now(), updated_at = now(), error = CASE WHEN "
            "status IN ('DONE', 'REJECTED') THEN error ELSE 'erased' END, status = CASE WHEN "
            "status = 'DONE' THEN status ELSE :r END WHERE chunk_id = ANY(:ids)",
            r=ChunkStatus.REJECTED,
            ids=ids,
        )
        counts = {"chunks": len(rows), "chunk_objects": objects, "speech_segments": segments}
        _count(conn, job.erasure_id, counts)
    return len(rows)


def run(erasure_id: Any, max_batches: int | None = None) -> dict[str, Any]:
    """Carry the erasure out (or on, after a crash) until done or `max_batches`; the
    erasure as it stands."""
    with _running(f"erasure:{erasure_id}") as mine:
        batches = 0
        while mine and (max_batches is None or batches < max_batches):
            with transaction() as conn:
                job = _q(conn, "SELECT * FROM erasures WHERE erasure_id = :id", id=erasure_id).one()
            if job.status == "DONE":
                break
            if _step(job) == 0:
                with transaction() as conn:
                    sql = "UPDATE erasures SET status = 'DONE', finished_at = now(), "
                    _q(conn, sql + "updated_at = now() WHERE erasure_id = :id", id=erasure_id)
            batches += 1
    with transaction() as conn:
        return latest(conn, erasure_id)[0]  # the table is the log: finished_at, counts


def run_pending(max_batches: int = 20) -> int:
    """The sweeper's part: go on with unfinished erasures, oldest first; how many."""
    with _running(RUNNER) as mine, transaction() as conn:
        sql = "SELECT erasure_id FROM erasures WHERE status = 'PENDING' ORDER BY requested_at"
        pending = _q(conn, sql + " LIMIT :n", n=5 if mine else 0).scalars().all()
    for erasure_id in pending:
        run(erasure_id, max_batches)
    return len(pending)


def apply_retention(now: datetime) -> int:
    """TRANSCRIPT_RETENTION_DAYS: transcripts of older dialogues are deleted, and their
    analyses keep the verdict and score but lose quotes, summary and recommendation.
    Logged as a `retention` erasure when it removed anything; transcripts removed."""
    days = settings().transcript_retention_days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    old = f"dialogue_id IN (SELECT dialogue_id FROM dialogues WHERE started_at < :c) LIMIT {BATCH}"
    quoted = "(num_nonnulls(result, summary, recommendation) > 0 OR offers @? '$[*].quote') AND "
    with transaction() as conn:
        transcripts = _q(
            conn,
            "DELETE FROM dialogue_transcripts WHERE dialogue_id IN "
            f"(SELECT dialogue_id FROM dialogue_transcripts WHERE {old})",
            c=cutoff,
        ).rowcount
        analyses = _q(
            conn,
            "UPDATE dialogue_upsell_analysis SET summary = NULL, recommendation = NULL, "
            "result = NULL, updated_at = now(), offers = (SELECT coalesce(jsonb_agg(o - "
            "'quote'), '[]') FROM jsonb_array_elements(offers) o) WHERE dialogue_id IN "
            f"(SELECT dialogue_id FROM dialogue_upsell_analysis WHERE {quoted}{old})",
            c=cutoff,
        ).rowcount
        if transcripts or analyses:
            by = f"sweeper (TRANSCRIPT_RETENTION_DAYS={days:g})"
            counts = {"dialogue_transcripts": transcripts, "analyses_scrubbed": analyses}
            _log(
                conn,
                id=uuid.uuid4(),
                kind=RETENTION,
                to_at=cutoff,
                by=by,
                status="DONE",
                counts=counts,
            )
    return transcripts
