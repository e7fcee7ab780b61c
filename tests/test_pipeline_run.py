"""The demo/eval runner's parts that work on any checkout: stages, device, replay, progress."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from recorder_kit import eventually, tone_file

from devkit import demo, evaluation
from devkit import pipeline_run as pr
from devkit.local.stack import LocalStack
from devkit.paths import DEMO_AUDIO
from recorder import replay
from salescontrol import topology


def test_missing_stages_names_what_nothing_consumes() -> None:
    full = topology.load()
    pushed = {
        name: topology.Function(name, name)
        for name in full.subscriptions
        if name not in pr.PULL_WORKERS
    }
    complete = dataclasses.replace(full, functions={**full.functions, **pushed})
    missing_worker = set(pr.missing_stages(complete))
    # every pushed subscription is consumed; only pull workers absent here can be missing
    assert all("worker of subscription" in line for line in missing_worker)
    without_vad = dataclasses.replace(
        complete, functions={k: v for k, v in complete.functions.items() if v.trigger != "vad"}
    )
    assert "no function consumes subscription vad (chunk-uploaded)" in pr.missing_stages(
        without_vad
    )


def test_progress_line_and_when_it_counts_as_settled() -> None:
    p = pr.Progress(chunks=8, chunks_done=7, chunks_rejected=1, dialogues=3, transcribed=3, owed=3)
    assert p.chunks_settled and not p.dialogues_settled
    assert p.line() == "chunks 8/8 (1 rejected) · dialogues 3 · transcribed 3 · analysed 0"
    done = dataclasses.replace(p, analysed=1, skipped=1, asr_failed=1, owed=0)
    assert done.dialogues_settled
    assert done.line().endswith("analysed 2 · failed 1")


def _result(n: int, **kwargs) -> pr.DialogueResult:
    values = {
        "dialogue_id": f"d{n}",
        "start_s": 60.0 * n,
        "end_s": 60.0 * n + 20,
        "asr_status": "DONE",
        "analysis_status": "DONE",
        "text": f"текст диалога {n}",
        "is_sales_dialogue": True,
        "attempted": False,
        "accepted": None,
        "quality_score": 0,
        "offers": [],
        "analyzer": "rules",
        "latency_s": 5.0,
        **kwargs,
    }
    return pr.DialogueResult(**values)


def test_summary_counts_upsells_and_quotes_examples() -> None:
    results = [
        _result(0, attempted=True, accepted=True, offers=[{"quote": "возьмете круассан"}]),
        _result(1, attempted=True, accepted=False, offers=[{"quote": "рекомендую печенье"}]),
        _result(2),
        _result(3, is_sales_dialogue=False, text="машина опоздает"),
    ]
    text = demo.summary(results)
    assert "dialogues: 4 · sales: 3 · upsell attempted: 2 (rate 67%) · accepted: 1" in text
    assert "upsell accepted:      «возьмете круассан»" in text
    assert "upsell refused:       «рекомендую печенье»" in text
    assert "sale without upsell:  «текст диалога 2»" in text
    assert " 4    3:00–3:20  DONE     нет" in text


def test_summary_shows_each_receipt_and_what_the_upsell_brought() -> None:
    croissant = {"product": "круассан", "status": "confirmed", "name": "Круассан", "amount": 7000}
    refused = {"product": "печенье", "status": "not_bought", "name": None, "amount": None}
    results = [
        _result(
            0, attempted=True, receipt_number=1, receipt_total=22000, receipt_check=[croissant]
        ),
        _result(1, attempted=True, receipt_number=2, receipt_total=14000, receipt_check=[refused]),
        _result(2),
    ]
    text = demo.summary(results)
    assert "220 ₽ (+70 ₽)" in text and "140 ₽ " in text
    assert "receipts linked to dialogues: 2 · upsells confirmed by the receipt: 1 (+70 ₽)" in text
    assert "confirmed: круассан → Круассан +70 ₽" in text
    assert "receipts linked" not in demo.summary(results[2:])


def test_a_replayed_recording_arrives_as_one_registered_device(
    stack: LocalStack, tmp_path: Path
) -> None:
    device = pr.register_device(stack.url("ingest"), stack.admin_token, "Тестовый магазин")
    config = pr.recorder_config(device, stack.url("ingest"), tmp_path / "spool", chunk_sec=3)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    played = replay.run(config, tone_file(tmp_path / "tone.wav", 10), speed=0, start=start)
    assert played.drained and played.chunks_recorded == 4
    engine = sa.create_engine(stack.env["DATABASE_URL"], poolclass=sa.pool.NullPool)
    try:
        eventually(
            lambda: pr.progress(engine, device.device_id).chunks == 4, what="four chunks announced"
        )
        with engine.connect() as conn:
            first = conn.execute(
                sa.text("SELECT min(started_at) FROM audio_chunks WHERE device_id = :d"),
                {"d": device.device_id},
            ).scalar()
        assert first == start  # the chosen time line, in the past
    finally:
        engine.dispose()


def test_the_demo_refuses_to_start_without_the_whole_pipeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pr, "missing_stages", lambda: ["no function consumes subscription vad"])
    with (
        pytest.raises(pr.PrerequisiteError, match=r"not complete.*vad"),
        pr.pipeline(DEMO_AUDIO),
    ):
        pass


def test_eval_lists_what_was_found_with_roles_and_words_on_the_recordings_time() -> None:
    # The dialogue's audio object starts 0.3 s before its speech (10.6 s for 10 s of span).
    segments = [
        {"start": 0.3, "end": 2.0, "text": "Здравствуйте.", "role": "customer"},
        {"start": 2.5, "end": 4.0, "text": "Добрый день.", "role": "seller"},
        {"start": 4.5, "end": 5.0, "text": "без роли"},
    ]
    result = dataclasses.replace(
        _result(0, segments=segments, audio_sec=10.6), start_s=10.0, end_s=20.0
    )
    found = evaluation.FoundDialogue(10.0, 20.0, "т", True, False, roles=demo._roles(result))
    [listed] = demo.found_list([found])
    assert (listed["start"], listed["end"], listed["attempted"], listed["accepted"]) == (
        10.0,
        20.0,
        True,
        False,
    )
    assert listed["roles"] == [
        {"start": 10.0, "end": 11.7, "role": "customer", "text": "Здравствуйте."},
        {"start": 12.2, "end": 13.7, "role": "seller", "text": "Добрый день."},
    ]
