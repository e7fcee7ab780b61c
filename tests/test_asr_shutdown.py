"""SIGTERM (spot VM preemption) with work in flight: nothing lost, exit 0 in 30 s, and the
next worker on the subscription gets every message."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from devkit.local.stack import LocalStack
from salescontrol import messages
from salescontrol.messages import AsrRequest
from tests.asr_samples import SHORT, dialogue_audio, opus_bytes
from tests.asr_support import WorkerProcess, dialogue_state, eventually, make_dialogue

pytestmark = [pytest.mark.slow, pytest.mark.emulator, pytest.mark.postgres]


def _status(engine: sa.Engine, dialogue_id: str) -> str:
    return dialogue_state(engine, dialogue_id)["asr_status"]


@pytest.fixture(scope="module")
def long_ogg() -> bytes:
    return opus_bytes(dialogue_audio(SHORT * 4))


def test_sigterm_past_the_grace_period_requeues_and_nacks(
    stack: LocalStack, stack_env: dict, engine: sa.Engine, long_ogg: bytes, tmp_path: Path
) -> None:
    dialogue_id, object_name = make_dialogue(engine, long_ogg)
    with WorkerProcess(stack, tmp_path / "worker.log", ASR_SHUTDOWN_GRACE_SEC="0") as worker:
        messages.publish(AsrRequest(dialogue_id, object_name))
        eventually(lambda: _status(engine, dialogue_id) == "PROCESSING", 60, "work in flight")
        assert worker.stop(timeout=30) == 0
    assert "transcription interrupted by shutdown; nacked" in (tmp_path / "worker.log").read_text()
    assert _status(engine, dialogue_id) == "QUEUED"


def test_sigterm_within_the_grace_period_finishes_the_dialogue(
    stack: LocalStack, stack_env: dict, engine: sa.Engine, long_ogg: bytes, tmp_path: Path
) -> None:
    dialogue_id, object_name = make_dialogue(engine, long_ogg)
    with WorkerProcess(stack, tmp_path / "worker.log") as worker:
        messages.publish(AsrRequest(dialogue_id, object_name))
        eventually(lambda: _status(engine, dialogue_id) == "PROCESSING", 60, "work in flight")
        assert worker.stop(timeout=30) == 0
    assert _status(engine, dialogue_id) == "DONE"


def test_a_worker_started_after_a_preempted_one_gets_all_its_work(
    stack: LocalStack, stack_env: dict, engine: sa.Engine, long_ogg: bytes, tmp_path: Path
) -> None:
    short_ogg = opus_bytes(dialogue_audio(SHORT))
    first_id, first_object = make_dialogue(engine, long_ogg)
    with WorkerProcess(stack, tmp_path / "first.log", ASR_SHUTDOWN_GRACE_SEC="0") as first:
        messages.publish(AsrRequest(first_id, first_object))
        eventually(lambda: _status(engine, first_id) == "PROCESSING", 60, "work in flight")
        # More work arrives while the first dialogue is transcribed; then a preemption.
        waiting = [make_dialogue(engine, short_ogg) for _ in range(3)]
        for dialogue_id, object_name in waiting:
            messages.publish(AsrRequest(dialogue_id, object_name))
        assert first.stop(timeout=30) == 0
        with WorkerProcess(stack, tmp_path / "second.log", first.subscription) as second:
            for dialogue_id in [first_id, *(d for d, _ in waiting)]:
                done = lambda d=dialogue_id: _status(engine, d) == "DONE"  # noqa: E731
                eventually(done, 120, f"dialogue {dialogue_id} transcribed")
            assert second.stop(timeout=30) == 0
