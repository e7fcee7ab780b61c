"""The load run's input is the same for the same seed; canonical dumps compare results."""

from __future__ import annotations

import soundfile as sf

from devkit.soak import canonical, inputs


def test_devices_and_recordings_repeat_for_a_seed(tmp_path) -> None:
    assert inputs.devices(3, seed=7) == inputs.devices(3, seed=7)
    assert inputs.devices(3, seed=7) != inputs.devices(3, seed=8)
    assert len({d.device_id for d in inputs.devices(20, seed=0)}) == 20
    first, laid = inputs.recording(tmp_path / "a.flac", 4, seed=1)
    again, laid_again = inputs.recording(tmp_path / "b.flac", 4, seed=1)
    other, _ = inputs.recording(tmp_path / "c.flac", 4, seed=2)
    assert first.read_bytes() == again.read_bytes() and laid == laid_again
    assert first.read_bytes() != other.read_bytes()
    info = sf.info(first)
    assert info.samplerate == 16000 and abs(info.duration - 240) < 0.01
    # Dialogues lie between quiet edges, so each is closed by evidence of silence.
    assert laid >= 1


def test_recording_keeps_its_edges_quiet(tmp_path) -> None:
    path, _ = inputs.recording(tmp_path / "r.flac", 3, seed=3)
    audio, rate = sf.read(path, dtype="float32")
    edge = int(inputs.EDGE_SEC * rate)
    speech_rms = max(float((c**2).mean() ** 0.5) for c in inputs.demo_dialogues())
    for part in (audio[:edge], audio[-edge:]):
        assert float((part**2).mean() ** 0.5) < speech_rms / 3


def test_differences_ignore_processing_times_and_name_what_differs() -> None:
    row = {"dialogue_id": "d1", "text": "Здравствуйте", "avg_logprob": -0.25}
    expected = {
        "dialogue_transcripts": {"d1": row},
        "dialogues": {},
        "dialogue_upsell_analysis": {},
    }
    same = {
        "dialogue_transcripts": {"d1": dict(row)},
        "dialogues": {},
        "dialogue_upsell_analysis": {},
    }
    assert canonical.differences(expected, same) == []
    changed = {
        "dialogue_transcripts": {"d1": {**row, "text": "Здравствуй"}, "d2": row},
        "dialogues": {},
        "dialogue_upsell_analysis": {},
    }
    found = canonical.differences(expected, changed)
    assert any("d1.text" in line for line in found)
    assert any("d2: extra" in line for line in found)
    assert any("missing" in line for line in canonical.differences(changed, expected))
    assert "processing_sec" in canonical.IGNORED["dialogue_transcripts"]


def test_sellers_compare_as_the_groups_they_make() -> None:
    """Two runs name a learned seller differently; the same grouping compares equal, a
    different grouping does not."""
    from devkit.soak import canonical

    def rows(*sellers: str | None) -> dict:
        out = {f"d{i}": {"seller_id": s} for i, s in enumerate(sellers)}
        canonical._sellers_as_groups(out)
        return out

    assert rows("a", "b", "a", None) == rows("x", "y", "x", None)
    assert rows("a", "b", "a") != rows("x", "x", "y")
