"""The invariants checked at the end of a run, one function each, returning its Check.

They read what the run left (`Stored`: chunk and dialogue rows, the bucket's objects),
what the devices did (`Traffic`) and the stack; `after_run` checks them all in order.
The faulted run against the fault-free one is `comparison`'s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from google.cloud import pubsub_v1, storage

from devkit.local.stack import LocalStack
from devkit.soak import badaudio
from devkit.soak.inputs import Device, Input
from devkit.soak.report import Check, Report
from devkit.soak.scenario import Traffic
from recorder.replay import ReplayResult
from salescontrol.chunks import ChunkStatus
from salescontrol.dialogues import AnalysisStatus, AsrStatus

CHUNKS_SQL = sa.text(
    "SELECT device_id::text AS device, chunk_id, object_name, status, error, started_at "
    "FROM audio_chunks"
)
DIALOGUES_SQL = sa.text(
    "SELECT dialogue_id, audio_object, asr_status, analysis_status FROM dialogues"
)


@dataclass(frozen=True)
class Stored:
    """What the run left behind: chunk and dialogue rows, and the bucket's object names."""

    chunks: list[Any]
    dialogues: list[Any]
    objects: set[str]


def stored(engine: sa.Engine, stack: LocalStack) -> Stored:
    """Read the rows and list the bucket once, for every invariant."""
    with engine.connect() as conn:
        chunks = conn.execute(CHUNKS_SQL).all()
        dialogues = conn.execute(DIALOGUES_SQL).all()
    with storage.Client() as client:
        bucket = client.bucket(stack.bucket)
        names = {b.name for b in bucket.list_blobs(prefix="chunks/")}
        names |= {b.name for b in bucket.list_blobs(prefix="dialogues/")}
    return Stored(chunks, dialogues, names)


def after_run(
    engine: sa.Engine, stack: LocalStack, given: Input, traffic: Traffic, report: Report
) -> None:
    """Check every end-of-run invariant into `report`, with each bad chunk's fate."""
    left = stored(engine, stack)
    report.bad_inputs.extend(bad_outcomes(left.chunks, traffic.bad))
    report.checks += [
        all_uploaded(given.devices, traffic.results, left.chunks),
        none_twice(left.chunks),
        all_final(left.chunks, traffic.bad),
        good_done(left.chunks, given.bad_device.device_id),
        bad_as_expected(report.bad_inputs),
        chunk_objects_exist(left.chunks, left.objects),
        dialogue_audio_exists(left.dialogues, left.objects),
        dialogues_finished(left.dialogues),
        no_dead_letters(stack),
        components_alive(stack),
    ]


def drained(in_time: bool, seconds: float, timeout: float) -> Check:
    return Check.of(
        "the pipeline drained before the timeout", in_time, f"{seconds:.0f} s of {timeout:.0f} s"
    )


def all_uploaded(
    devices: list[Device], results: dict[str, ReplayResult], chunks: list[Any]
) -> Check:
    """Each device drained its spool, and ingest has a row for each chunk it made."""
    rows: dict[str, int] = {}
    for row in chunks:
        rows[row.device] = rows.get(row.device, 0) + 1
    lost = []
    for device in devices:
        result = results.get(device.device_id)
        mine = rows.get(device.device_id, 0)
        if (
            result is None
            or not result.drained
            or result.moved_to_failed
            or result.uploaded != result.chunks_recorded
            or mine != result.chunks_recorded
        ):
            summary = result and {k: v for k, v in asdict(result).items() if k != "health"}
            lost.append(f"device {device.index}: {summary}, rows {mine}")
    return Check.of(
        "every chunk a device made was announced and uploaded", not lost, "; ".join(lost[:5])
    )


def none_twice(chunks: list[Any]) -> Check:
    twice = len(chunks) - len({(r.device, r.started_at) for r in chunks})
    return Check.of("no chunk recorded twice", twice == 0, f"{twice} duplicates")


def all_final(chunks: list[Any], bad: list[badaudio.Sent]) -> Check:
    """Every chunk ingest kept ended DONE or REJECTED, and a rejection says why."""
    refused = {cid for _, cid, code, _ in bad if code >= 400}
    final = [
        f"{r.chunk_id} {r.status}"
        for r in chunks
        if r.status not in (ChunkStatus.DONE, ChunkStatus.REJECTED)
        and str(r.chunk_id) not in refused
    ]
    unexplained = [r.chunk_id for r in chunks if r.status == ChunkStatus.REJECTED and not r.error]
    return Check.of(
        "every chunk DONE or REJECTED with a reason",
        not final and not unexplained,
        f"not final: {final[:5]}; rejected without reason: {unexplained[:5]}",
    )


def good_done(chunks: list[Any], bad_device_id: str) -> Check:
    rejected = [
        f"{r.chunk_id}: {r.error}"
        for r in chunks
        if r.device != bad_device_id and r.status != ChunkStatus.DONE
    ]
    return Check.of("every good chunk DONE", not rejected, str(rejected[:5]))


def bad_outcomes(chunks: list[Any], bad: list[badaudio.Sent]) -> list[dict[str, Any]]:
    """Each bad chunk's fate: refused by ingest (no row) or its row's status and error."""
    status = {str(r.chunk_id): (r.status, r.error) for r in chunks}
    outcomes = []
    for chunk, cid, code, payload in bad:
        seen = status.get(cid, (badaudio.REFUSED, f"{code} {payload.get('field')}"))
        field_named = payload.get("field") == chunk.expected.field
        ok = chunk.expected.matches(*seen) and (
            chunk.expected.status != badaudio.REFUSED or field_named
        )
        outcomes.append(
            {
                "kind": chunk.kind,
                "expected": chunk.expected.status,
                "outcome": seen[0],
                "reason": seen[1] or "",
                "as_expected": ok,
            }
        )
    return outcomes


def bad_as_expected(outcomes: list[dict[str, Any]]) -> Check:
    """Not applicable when no bad chunk was sent."""
    detail = "; ".join(f"{b['kind']}: {b['outcome']} ({b['reason'][:60]})" for b in outcomes)
    holds = all(b["as_expected"] for b in outcomes) if outcomes else None
    return Check.of("each bad chunk REJECTED/refused as expected", holds, detail)


def chunk_objects_exist(chunks: list[Any], objects: set[str]) -> Check:
    missing = [
        r.object_name
        for r in chunks
        if r.status != ChunkStatus.AWAITING_UPLOAD and r.object_name not in objects
    ]
    return Check.of("every uploaded chunk's object exists", not missing, str(missing[:5]))


def dialogue_audio_exists(dialogues: list[Any], objects: set[str]) -> Check:
    no_audio = [str(d.dialogue_id) for d in dialogues if d.audio_object not in objects]
    return Check.of("every dialogue's audio object exists", not no_audio, str(no_audio[:5]))


def dialogues_finished(dialogues: list[Any]) -> Check:
    unfinished = [
        f"{d.dialogue_id} asr {d.asr_status} analysis {d.analysis_status}"
        for d in dialogues
        if d.asr_status != AsrStatus.DONE
        or d.analysis_status not in (AnalysisStatus.DONE, AnalysisStatus.SKIPPED)
    ]
    return Check.of(
        "every dialogue transcribed and analysed",
        bool(dialogues) and not unfinished,
        f"{len(dialogues)} dialogues; {unfinished[:5]}",
    )


def no_dead_letters(stack: LocalStack) -> Check:
    """A pull on every dead-letter subscription finds nothing."""
    client = pubsub_v1.SubscriberClient()
    found = {}
    for sub in stack.topology.subscriptions.values():
        path = client.subscription_path(stack.project, sub.dead_letter_topic)
        answer = client.pull(subscription=path, max_messages=100, timeout=5)
        if answer.received_messages:
            found[sub.dead_letter_topic] = len(answer.received_messages)
    client.close()
    return Check.of("dead-letter topics empty (except bad on purpose)", not found, str(found))


def components_alive(stack: LocalStack) -> Check:
    try:
        stack.check_alive()
        alive = True
    except Exception:
        alive = False
    return Check.of("every component still running", alive)
