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
DIALOGUE, DEVICE, BEFORE, RETENTION = "dialogue", "device", "before", "retention"
_DIALOGUES = {
    DIALOGUE: "dialogue_id = :dialogue",
    DEVICE: "device_id = :device AND started_at < :to AND ended_at > :from",
    BEFORE: "started_at < :to",
}
_OVERLAPS = "started_at < :to AND started_at + duration_sec * interval '1 second' > :from"
_CHUNKS = {DIALOGUE: f"device_id = :device AND {_OVERLAPS}", BEFORE: "started_at < :to"}
_CHUNKS[DEVICE] = _CHUNKS[DIALOGUE]


@dataclass(frozen=True)
class Scope:
    """What to erase: one dialogue, a device between two times, or all before `to_at`."""

    kind: str
    dialogue_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None
    from_at: datetime | None = None
    to_at: datetime | None = None

    def check(self) -> None:
        wanted = {DIALOGUE: ("dialogue_id",), DEVICE: ("device_id", "from_at", "to_at")}
        for name in wanted.get(self.kind, ("to_at",)):
            if getattr(self, name) is None:
                raise BadInput(f"erasing by {self.kind} needs {name}", name)
        if self.from_at and self.to_at and self.from_at >= self.to_at:
            raise BadInput("from_at must be before to_at", "from_at")


def request(
    conn: Connection, scope: Scope, by: str, reason: str | None, erasure_id: uuid.UUID | None
) -> tuple[dict[str, Any], bool]:
    """The erasure of `scope` (made PENDING, or the one already asked for: the same id,
    the same dialogue, or the same unfinished scope); and whether it is new."""
    scope.check()
    if scope.kind == DIALOGUE:  # its device and span, kept for the chunks after it is gone
        found = conn.execute(
            sa.text("SELECT device_id, started_at, ended_at FROM dialogues WHERE dialogue_id = :d"),
            {"d": scope.dialogue_id},
        ).first()
        done = conn.execute(
            sa.text("SELECT erasure_id FROM erasures WHERE dialogue_id = :d"),
            {"d": scope.dialogue_id},
        ).scalar()
        if found is None and done is None:
            raise NotFound(f"dialogue {scope.dialogue_id} does not exist", "dialogue_id")
        if found is not None:
            scope = Scope(DIALOGUE, scope.dialogue_id, *found)
    elif (
        scope.kind == DEVICE
        and not conn.execute(
            sa.text("SELECT 1 FROM devices WHERE device_id = :d"), {"d": scope.device_id}
        ).first()
    ):
        raise NotFound(f"device {scope.device_id} is not registered", "device_id")
    facts = {k: getattr(scope, k) for k in ("dialogue_id", "device_id", "from_at", "to_at")}
    same = " AND ".join(f"{k} IS NOT DISTINCT FROM :{k}" for k in facts)
    existing = conn.execute(
        sa.text(
            f"SELECT * FROM erasures WHERE erasure_id = :id OR (scope = :kind AND (({same} "
            "AND status = 'PENDING') OR (scope = 'dialogue' AND dialogue_id = :dialogue_id))) "
            "ORDER BY erasure_id = :id DESC LIMIT 1 FOR UPDATE"
        ),
        {"id": erasure_id, "kind": scope.kind, **facts},
    ).first()
    if existing is not None:
        compared = ("dialogue_id",) if scope.kind == DIALOGUE else tuple(facts)
        if existing.scope != scope.kind or any(getattr(existing, k) != facts[k] for k in compared):
            raise Conflict(f"erasure {erasure_id} was asked for another scope", "erasure_id")
        return _public(existing), False
    row = conn.execute(
        sa.text(
            "INSERT INTO erasures (erasure_id, scope, dialogue_id, device_id, from_at, to_at, "
            "requested_by, reason) VALUES (:id, :kind, :dialogue_id, :device_id, :from_at, "
            ":to_at, :by, :reason) RETURNING *"
        ),
        {"id": erasure_id or uuid.uuid4(), "kind": scope.kind, "by": by, "reason": reason, **facts},
    ).one()
    log.warning("erasure requested", extra=_public(row))
    return _public(row), True


def get(conn: Connection, erasure_id: uuid.UUID) -> dict[str, Any]:
    row = conn.execute(
        sa.text("SELECT * FROM erasures WHERE erasure_id = :id"), {"id": erasure_id}
    ).first()
    if row is None:
        raise NotFound(f"erasure {erasure_id} does not exist", "erasure_id")
    return _public(row)


def latest(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The erasure log, newest first."""
    rows = conn.execute(
        sa.text("SELECT * FROM erasures ORDER BY requested_at DESC LIMIT :n"), {"n": limit}
    )
    return [_public(r) for r in rows]


def _public(row: sa.Row) -> dict[str, Any]:
    out = dict(row._mapping)
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()} | {
        k: str(out[k]) for k in ("erasure_id", "dialogue_id", "device_id") if out[k]
    }


RUNNER = "erasures"  # the sweeper's lock: one sweeper at a time carries erasures out


@contextlib.contextmanager
def _running(name: str) -> Iterator[bool]:
    """Whether this process holds the lock `name` now (an erasure has one runner at a
    time; the lock goes with the connection if the runner dies)."""
    conn = engine().connect()
    try:
        key = {"k": advisory_key(name)}
        yield bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), key).scalar())
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
        blobs = storage.bucket().list_blobs(prefix=stem.rpartition(".")[0])
        return [b.name for b in blobs]
    except gexc.GoogleAPIError as exc:
        raise TransientError(f"listing {stem}: {exc}") from exc


def _count(conn: Connection, erasure_id: uuid.UUID, counts: dict[str, int]) -> None:
    total = conn.execute(
        sa.text("SELECT counts FROM erasures WHERE erasure_id = :id FOR UPDATE"), {"id": erasure_id}
    ).scalar_one()
    total = {k: total.get(k, 0) + counts.get(k, 0) for k in {*total, *counts}}
    conn.execute(
        sa.text(
            "UPDATE erasures SET counts = CAST(:c AS jsonb), updated_at = now() "
            "WHERE erasure_id = :id"
        ),
        {"c": json.dumps(total), "id": erasure_id},
    )


def _step(job: sa.Row) -> int:
    """Erase one batch of the job's dialogues, else of its chunks; rows erased."""
    params = {"dialogue": job.dialogue_id, "device": job.device_id, "to": job.to_at}
    params["from"] = job.from_at
    with transaction() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT dialogue_id, audio_object FROM dialogues WHERE {_DIALOGUES[job.scope]} "
                "LIMIT :n"
            ),
            {**params, "n": BATCH},
        ).all()
    if rows:
        objects = _delete_objects([r.audio_object for r in rows if r.audio_object])
        ids = {"ids": [r.dialogue_id for r in rows]}
        with transaction() as conn:
            counts = {"dialogue_objects": objects}
            for table, key in [
                ("dialogue_transcripts", "transcripts"),
                ("dialogue_upsell_analysis", "analyses"),
                ("dialogues", "dialogues"),
            ]:
                sql = f"DELETE FROM {table} WHERE dialogue_id = ANY(:ids)"
                counts[key] = conn.execute(sa.text(sql), ids).rowcount
            _count(conn, job.erasure_id, counts)
        return len(rows)
    with transaction() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT chunk_id, device_id, started_at, codec FROM audio_chunks "
                f"WHERE erased_at IS NULL AND {_CHUNKS[job.scope]} LIMIT :n"
            ),
            {**params, "n": BATCH},
        ).all()
    if not rows:
        return 0
    objects = sum(_delete_objects(_uploads(r)) for r in rows)
    ids = {"ids": [r.chunk_id for r in rows], "r": ChunkStatus.REJECTED}
    with transaction() as conn:
        segments = conn.execute(
            sa.text("DELETE FROM speech_segments WHERE chunk_id = ANY(:ids)"), ids
        ).rowcount
        # Unfinished chunks end REJECTED, so no stage owes them work any more.
        conn.execute(
            sa.text(
                "UPDATE audio_chunks SET erased_at = now(), updated_at = now(), "
                "error = CASE WHEN status IN ('DONE', 'REJECTED') THEN error ELSE 'erased' END, "
                "status = CASE WHEN status = 'DONE' THEN status ELSE :r END "
                "WHERE chunk_id = ANY(:ids)"
            ),
            ids,
        )
        counts = {"chunks": len(rows), "chunk_objects": objects, "speech_segments": segments}
        _count(conn, job.erasure_id, counts)
    return len(rows)


def run(erasure_id: uuid.UUID, max_batches: int | None = None) -> dict[str, Any]:
    """Carry the erasure out (or on, after a crash) until done or `max_batches`; the
    erasure as it stands."""
    with _running(f"erasure:{erasure_id}") as mine:
        batches = 0
        while mine and (max_batches is None or batches < max_batches):
            with transaction() as conn:
                job = conn.execute(
                    sa.text("SELECT * FROM erasures WHERE erasure_id = :id"), {"id": erasure_id}
                ).one()
            if job.status == "DONE":
                break
            if _step(job) == 0:
                with transaction() as conn:
                    conn.execute(
                        sa.text(
                            "UPDATE erasures SET status = 'DONE', finished_at = now(), "
                            "updated_at = now() WHERE erasure_id = :id"
                        ),
                        {"id": erasure_id},
                    )
            batches += 1
    with transaction() as conn:
        result = get(conn, erasure_id)
    if result["status"] == "DONE":
        log.warning("erasure done", extra=result)
    return result


def run_pending(max_batches: int = 20) -> int:
    """The sweeper's part: go on with unfinished erasures, oldest first; rows erased."""
    erased = 0
    with _running(RUNNER) as mine:
        with transaction() as conn:
            pending = conn.execute(
                sa.text(
                    "SELECT erasure_id, counts FROM erasures WHERE status = 'PENDING' "
                    "ORDER BY requested_at LIMIT :n"
                ),
                {"n": 5 if mine else 0},
            ).all()
        for job in pending:
            after = run(job.erasure_id, max_batches)["counts"]
            erased += sum(after.get(k, 0) - job.counts.get(k, 0) for k in ("dialogues", "chunks"))
    return erased


def apply_retention(now: datetime) -> int:
    """TRANSCRIPT_RETENTION_DAYS: transcripts of older dialogues are deleted, and their
    analyses keep the verdict and score but lose quotes, summary and recommendation.
    Logged as a `retention` erasure when it removed anything; transcripts removed."""
    days = settings().transcript_retention_days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    old = "SELECT dialogue_id FROM dialogues WHERE started_at < :cutoff"
    with transaction() as conn:
        transcripts = conn.execute(
            sa.text(
                "DELETE FROM dialogue_transcripts WHERE dialogue_id IN (SELECT dialogue_id FROM "
                f"dialogue_transcripts WHERE dialogue_id IN ({old}) LIMIT :n)"
            ),
            {"cutoff": cutoff, "n": BATCH * 5},
        ).rowcount
        analyses = conn.execute(
            sa.text(
                "UPDATE dialogue_upsell_analysis SET summary = NULL, recommendation = NULL, "
                "result = NULL, offers = (SELECT coalesce(jsonb_agg(o - 'quote'), '[]') "
                "FROM jsonb_array_elements(offers) o), updated_at = now() WHERE dialogue_id IN "
                "(SELECT dialogue_id FROM dialogue_upsell_analysis WHERE (result IS NOT NULL "
                "OR summary IS NOT NULL OR recommendation IS NOT NULL OR offers @? '$[*].quote')"
                f" AND dialogue_id IN ({old}) LIMIT :n)"
            ),
            {"cutoff": cutoff, "n": BATCH * 5},
        ).rowcount
        if transcripts or analyses:
            conn.execute(
                sa.text(
                    "INSERT INTO erasures (erasure_id, scope, to_at, requested_by, status, "
                    "counts, finished_at) VALUES (:id, 'retention', :cutoff, :by, 'DONE', "
                    "CAST(:c AS jsonb), now())"
                ),
                {
                    "id": uuid.uuid4(),
                    "cutoff": cutoff,
                    "by": f"sweeper (TRANSCRIPT_RETENTION_DAYS={days:g})",
                    "c": json.dumps({"transcripts": transcripts, "analyses_scrubbed": analyses}),
                },
            )
    return transcripts
