"""The bad-chunk generators of the load run: each is the damage it claims to be."""

from __future__ import annotations

import io
import random
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import soundfile as sf

from devkit.soak import badaudio


def decode(data: bytes) -> tuple[np.ndarray, int]:
    return sf.read(io.BytesIO(data), always_2d=True)


def has_end_of_stream(data: bytes) -> bool:
    """Whether an Ogg page with the end-of-stream flag (header type bit 2) is present."""
    at = data.find(b"OggS")
    while at != -1:
        if at + 5 < len(data) and data[at + 5] & 0x04:
            return True
        at = data.find(b"OggS", at + 4)
    return False


@pytest.fixture(scope="module")
def chunks() -> dict[str, badaudio.BadChunk]:
    rng = random.Random(7)
    return {name: make(rng) for name, make in badaudio.KINDS.items()}


def test_every_kind_is_damaged_as_named(chunks) -> None:
    assert chunks["zero_bytes"].data == b""
    truncated = chunks["truncated_ogg"].data
    assert truncated.startswith(b"OggS")
    # Decoders stop short on a cut stream: less audio than announced, no end-of-stream page.
    samples, rate = decode(truncated)
    assert len(samples) / rate < 0.6 * chunks["truncated_ogg"].duration_sec
    assert not has_end_of_stream(truncated)
    assert has_end_of_stream(chunks["silence_only"].data)
    with pytest.raises(sf.LibsndfileError):
        decode(chunks["random_bytes"].data)
    samples, rate = decode(chunks["wrong_sample_rate"].data)
    assert rate == 48000 and samples.shape[1] == 2
    samples, rate = decode(chunks["silence_only"].data)
    assert len(samples) / rate == pytest.approx(30, abs=0.1)
    assert np.abs(samples).max() < 1e-3
    samples, rate = decode(chunks["ten_minutes"].data)
    assert len(samples) / rate == pytest.approx(600, abs=0.5)
    # 4,044 bytes whose header claims 4,000 s at 1 Hz; the poison is ordinary audio.
    bomb = sf.info(io.BytesIO(chunks["audio_bomb"].data))
    assert len(chunks["audio_bomb"].data) == 4044
    assert (bomb.samplerate, bomb.frames) == (1, 4000)
    samples, rate = decode(chunks["poison"].data)
    assert rate == 16000 and len(samples) / rate == pytest.approx(10, abs=0.1)


def test_expected_outcomes_and_reproducibility(chunks) -> None:
    expected = {name: chunk.expected.status for name, chunk in chunks.items()}
    assert expected == {
        "zero_bytes": badaudio.REJECTED,
        "truncated_ogg": badaudio.REJECTED,
        "random_bytes": badaudio.REJECTED,
        "wrong_sample_rate": badaudio.DONE,
        "ten_minutes": badaudio.REFUSED,
        "silence_only": badaudio.DONE,
        "audio_bomb": badaudio.REJECTED,
        "poison": badaudio.REJECTED,
    }
    assert chunks["zero_bytes"].expected.matches("REJECTED", "chunk is empty (zero bytes)")
    assert not chunks["zero_bytes"].expected.matches("REJECTED", "sha256 mismatch")
    assert not chunks["zero_bytes"].expected.matches("DONE", None)
    mixed = badaudio.mix(2, seed=3)
    assert [c.kind for c in mixed] == sorted(badaudio.KINDS)[:2]
    # Same seed, same damage (the Ogg serial numbers of encoded kinds vary).
    again = badaudio.mix(2, seed=3)
    assert mixed[0].data == again[0].data and len(mixed[0].data) == 4044  # the audio bomb


def test_ingest_accepts_or_refuses_each_announcement_as_expected(api, device, chunks) -> None:
    started = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    for chunk in chunks.values():
        body = chunk.announcement(str(uuid.uuid4()), started)
        response = api.call("POST", "/api/v1/chunks/upload-url", token=device["token"], json=body)
        if chunk.expected.status == badaudio.REFUSED:
            assert response.status_code == 400, chunk.kind
            assert response.json()["field"] == chunk.expected.field
        else:
            assert response.status_code == 201, (chunk.kind, response.text)
