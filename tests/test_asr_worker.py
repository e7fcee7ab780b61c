"""The ASR worker as deployed: asr-requests in, transcript row and transcripts-ready out."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from devkit.evaluation import cer
from devkit.local.stack import LocalStack
from salescontrol import messages
from salescontrol.messages import AsrRequest
from tests.asr_samples import SHORT, dialogue_audio, opus_bytes, script
from tests.asr_support import WorkerProcess, dialogue_state, eventually, make_dialogue
from tests.pubsub_kit import Watch, bodies, watch

pytestmark = [pytest.mark.slow, pytest.mark.emulator, pytest.mark.postgres]


@pytest.fixture(scope="module")
def worker(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    with WorkerProcess(stack, tmp_path_factory.mktemp("asr") / "worker.log") as process:
        yield process
        assert process.stop() == 0


@pytest.fixture(scope="module")
def short_dialogue_ogg() -> bytes:
    return opus_bytes(dialogue_audio(SHORT))


def _done(engine: sa.Engine, dialogue_id: str) -> dict | None:
    state = dialogue_state(engine, dialogue_id)
    return state if state["asr_status"] in ("DONE", "FAILED") else None


def _ready_for(ready: Watch, dialogue_id: str, count: int = 1):
    return lambda: sum(m["dialogue_id"] == dialogue_id for m in bodies(ready.pull())) >= count


def test_dialogue_end_to_end(
    stack_env: dict, engine: sa.Engine, worker: WorkerProcess, short_dialogue_ogg: bytes
) -> None:
    dialogue_id, object_name = make_dialogue(engine, short_dialogue_ogg)
    with watch(stack_env["GOOGLE_CLOUD_PROJECT"], "transcripts-ready") as ready:
        messages.publish(AsrRequest(dialogue_id, object_name))
        state = eventually(lambda: _done(engine, dialogue_id), 120, "the transcript")
        assert state["asr_status"] == "DONE", state["asr_error"]
        assert cer(script(SHORT), state["text"]) <= 0.15, state["text"]
        assert state["segments"] and state["segments"][0]["text"]
        assert 0 <= state["segments"][0]["start"] < state["segments"][-1]["end"]
        eventually(_ready_for(ready, dialogue_id), 30, "transcripts-ready")
    metrics = worker.metrics()
    assert metrics["processed"] >= 1 and metrics["rtf"] > 0 and metrics["in_flight"] == 0


def test_redelivery_is_idempotent_unless_forced(
    stack_env: dict, engine: sa.Engine, worker: WorkerProcess, short_dialogue_ogg: bytes
) -> None:
    dialogue_id, object_name = make_dialogue(engine, short_dialogue_ogg)
    request = AsrRequest(dialogue_id, object_name)
    with watch(stack_env["GOOGLE_CLOUD_PROJECT"], "transcripts-ready") as ready:
        messages.publish(request)
        eventually(lambda: _done(engine, dialogue_id), 120, "the transcript")
        first = dialogue_state(engine, dialogue_id)
        skipped = worker.metrics()["skipped"]
        messages.publish(request)
        messages.publish(request)
        eventually(lambda: worker.metrics()["skipped"] >= skipped + 2, 60, "two duplicates")
        assert dialogue_state(engine, dialogue_id) == first  # not transcribed again
        eventually(_ready_for(ready, dialogue_id, 3), 30, "transcripts-ready for each")
        messages.publish(AsrRequest(dialogue_id, object_name, force=True))
        eventually(
            lambda: dialogue_state(engine, dialogue_id)["updated_at"] > first["updated_at"],
            120,
            "the forced re-run",
        )
    assert dialogue_state(engine, dialogue_id)["asr_status"] == "DONE"


@pytest.mark.parametrize(
    "audio, reason",
    [(b"OggS" + os.urandom(3000), "truncated"), (None, "is missing")],
    ids=["corrupt", "missing"],
)
def test_bad_audio_fails_with_reason_and_is_acked(
    stack_env: dict, engine: sa.Engine, worker: WorkerProcess, audio, reason: str
) -> None:
    before = worker.metrics()
    dialogue_id, object_name = make_dialogue(engine, audio)
    messages.publish(AsrRequest(dialogue_id, object_name))
    state = eventually(lambda: _done(engine, dialogue_id), 60, "the failure")
    assert state["asr_status"] == "FAILED" and reason in state["asr_error"]
    assert object_name in state["asr_error"] and state["text"] is None
    after = worker.metrics()
    assert after["failed"] == before["failed"] + 1 and after["retried"] == before["retried"]
