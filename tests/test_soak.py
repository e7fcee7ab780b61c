"""A small load run with every kind of fault ends like a fault-free run of the same input."""

from __future__ import annotations

import pytest

from devkit.soak import badaudio, runner


@pytest.mark.slow
@pytest.mark.emulator
@pytest.mark.postgres
def test_small_soak_with_faults_matches_the_fault_free_run(tmp_path) -> None:
    options = runner.Options(
        devices=4,
        minutes=5,
        chunk_sec=30,
        faults=True,
        outage_sec=20,
        bad_chunks=len(badaudio.KINDS),
        timeout_sec=1200,
        workdir=tmp_path / "soak",
    )
    report = runner.run(options, echo=print)
    checks = {c.name: c for c in report.checks}
    # Every invariant is checked (none skipped) and holds.
    assert all(c.status == runner.PASSED for c in report.checks), [
        c for c in report.checks if c.status != runner.PASSED
    ]
    for name in (
        "every chunk a device made was announced and uploaded",
        "every chunk DONE or REJECTED with a reason",
        "each bad chunk REJECTED/refused as expected",
        "every dialogue's audio object exists",
        "dead-letter topics empty (except bad on purpose)",
        "dialogues, transcripts, analyses equal to a fault-free run",
    ):
        assert name in checks, name
    figures = report.figures
    assert figures["chunks_uploaded"] == 4 * 5 * 60 // 30
    assert figures["dialogues"] >= figures["dialogues_laid"] >= 4
    assert figures["e2e_latency_sec"]["n"] == figures["dialogues_analysed"]
    # Each kind of fault happened, on every function of the data path.
    kinds = {f["kind"] for f in report.faults}
    assert {
        "sigkill",
        "sigterm",
        "postgres_restart",
        "push_500",
        "network_down",
        "offline_backlog",
        "duplicate_delivery",
    } <= kinds, kinds
    killed = {f["target"] for f in report.faults if f["kind"] == "sigkill"}
    assert killed == {"ingest", "vad", "assemble", "analyze"}
    assert all(
        f["recovery_sec"] is not None for f in report.faults if f["kind"] != "duplicate_delivery"
    )
    duplicates = next(f for f in report.faults if f["kind"] == "duplicate_delivery")["detail"]
    assert all(counts.get("duplicate", 0) > 0 for counts in duplicates["pushes"].values())
    assert duplicates["asr_requests_copied"] > 0
    offline = next(f for f in report.faults if f["kind"] == "offline_backlog")["detail"]
    assert offline["chunks_in_random_order"] == 5 * 60 // 30
    # Every kind of bad chunk, the audio bomb and the poison chunk among them.
    bad = {b["kind"]: b for b in report.bad_inputs}
    assert set(bad) == set(badaudio.KINDS)
    assert "sample rate 1 Hz" in bad["audio_bomb"]["reason"]
    assert bad["poison"]["reason"].startswith("gave up after 5 attempts; last error: ")
    assert {"ingest", "vad", "assemble", "analyze", "asr", "postgres"} <= set(report.components)
