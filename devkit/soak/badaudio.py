"""Bad chunks on purpose, each with the outcome the pipeline owes it.

The load run mixes these into the good traffic; at the end every bad one must have ended
where `expected` says (refused by ingest, REJECTED by vad with a reason containing one of
`reason_words`, or processed like a good one) and every good one must be DONE.

Two are hostile rather than broken: the audio bomb (a few kilobytes whose header claims
hours of audio) and the poison chunk, good audio whose processing fails every time. No
real input is known to do that, so `install_poison` makes the database refuse the
poison's result (a trigger), the way a bug that crashes on one input would; the
pipeline must give up on it after MAX_ATTEMPTS instead of retrying for ever.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import requests
import soundfile as sf
import sqlalchemy as sa

from salescontrol.chunks import ChunkStatus

SAMPLE_RATE = 16000

# Where a chunk ends up: refused at announcement (no row), REJECTED by vad, or DONE.
REFUSED = "REFUSED"
REJECTED, DONE = ChunkStatus.REJECTED, ChunkStatus.DONE


@dataclass(frozen=True)
class Expected:
    status: str
    reason_words: tuple[str, ...] = ()  # the recorded error contains one of these
    field: str | None = None  # for REFUSED: the field the 400 names

    def matches(self, status: str, reason: str | None) -> bool:
        """Whether an observed (status, error or refused field) is this outcome."""
        if status != self.status:
            return False
        text = (reason or "").lower()
        return not self.reason_words or any(word in text for word in self.reason_words)


@dataclass(frozen=True)
class BadChunk:
    kind: str
    data: bytes
    duration_sec: float  # what the device announces
    sample_rate: int
    expected: Expected
    codec: str = "opus"
    poison: bool = False  # its processing fails every time (`install_poison`)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def announcement(self, chunk_id: str, started_at: str) -> dict:
        """The ingest announcement a device would send for this file."""
        return {
            "chunk_id": chunk_id,
            "started_at": started_at,
            "duration_sec": self.duration_sec,
            "size_bytes": len(self.data),
            "sha256": self.sha256,
            "codec": self.codec,
            "sample_rate": self.sample_rate,
        }


def _opus(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, samples.astype("float32"), rate, format="OGG", subtype="OPUS")
    return out.getvalue()


def _noise(rng: random.Random, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    gen = np.random.default_rng(rng.getrandbits(32))
    shape = (int(seconds * rate), channels) if channels > 1 else (int(seconds * rate),)
    return 0.1 * gen.standard_normal(shape)


def zero_bytes(rng: random.Random) -> BadChunk:
    return BadChunk("zero_bytes", b"", 10.0, SAMPLE_RATE, Expected(REJECTED, ("empty", "zero")))


def truncated_ogg(rng: random.Random) -> BadChunk:
    whole = _opus(_noise(rng, 10, SAMPLE_RATE), SAMPLE_RATE)
    cut = whole[: len(whole) // 2]  # the upload of a Pi that lost power mid-write
    return BadChunk(
        "truncated_ogg",
        cut,
        10.0,
        SAMPLE_RATE,
        Expected(REJECTED, ("truncat", "decod", "duration")),
    )


def random_bytes(rng: random.Random) -> BadChunk:
    data = rng.randbytes(20_000)
    return BadChunk(
        "random_bytes", data, 10.0, SAMPLE_RATE, Expected(REJECTED, ("not audio", "decod"))
    )


def wrong_sample_rate(rng: random.Random) -> BadChunk:
    # 48 kHz stereo instead of 16 kHz mono: converted, not rejected (issue 4).
    data = _opus(_noise(rng, 10, 48000, channels=2), 48000)
    return BadChunk("wrong_sample_rate", data, 10.0, 48000, Expected(DONE))


def ten_minutes(rng: random.Random) -> BadChunk:
    # Longer than MAX_CHUNK_DURATION_SEC (300 s): ingest refuses the announcement.
    data = _opus(np.zeros(600 * 8000), 8000)
    return BadChunk("ten_minutes", data, 600.0, 8000, Expected(REFUSED, field="duration_sec"))


def silence_only(rng: random.Random) -> BadChunk:
    # Valid audio without speech: DONE with no speech segments and no dialogue.
    return BadChunk(
        "silence_only",
        _opus(np.zeros(30 * SAMPLE_RATE), SAMPLE_RATE),
        30.0,
        SAMPLE_RATE,
        Expected(DONE),
    )


def wav_bytes(rate: int, payload: bytes, channels: int = 1) -> bytes:
    """A WAV file of 8-bit samples whose header says `rate` and `channels`."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels, channels, 8)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def audio_bomb(rng: random.Random) -> BadChunk:
    # 4,044 bytes claiming 1 Hz: 4,000 s of audio, 64 M samples once resampled to 16 kHz
    # (the decoder before issue 18 took about 1 GB for it; the vad function has 1 GiB).
    data = wav_bytes(1, rng.randbytes(4000))
    expected = Expected(REJECTED, ("sample rate",))
    return BadChunk("audio_bomb", data, 10.0, SAMPLE_RATE, expected, codec="wav")


def poison(rng: random.Random) -> BadChunk:
    # Good audio whose processing fails every time: REJECTED after MAX_ATTEMPTS.
    data = _opus(_noise(rng, 10, SAMPLE_RATE), SAMPLE_RATE)
    expected = Expected(REJECTED, ("gave up after",))
    return BadChunk("poison", data, 10.0, SAMPLE_RATE, expected, poison=True)


KINDS: dict[str, Callable[[random.Random], BadChunk]] = {
    f.__name__: f
    for f in (
        zero_bytes,
        truncated_ogg,
        random_bytes,
        wrong_sample_rate,
        ten_minutes,
        silence_only,
        audio_bomb,
        poison,
    )
}

_POISON_SQL = [
    "CREATE TABLE IF NOT EXISTS soak_poison (sha256 text PRIMARY KEY)",
    """
    CREATE OR REPLACE FUNCTION soak_poison() RETURNS trigger AS $$
    BEGIN
        IF NEW.status = 'DONE' AND EXISTS (SELECT 1 FROM soak_poison WHERE sha256 = NEW.sha256)
        THEN
            RAISE EXCEPTION 'poison chunk: its result is refused every time (soak)';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS soak_poison ON audio_chunks",
    "CREATE TRIGGER soak_poison BEFORE UPDATE ON audio_chunks FOR EACH ROW "
    "EXECUTE FUNCTION soak_poison()",
]


def install_poison(database_url: str, chunks: list[BadChunk]) -> None:
    """Make the database refuse to mark the poison chunks DONE (a stage failing on them
    every time); the stack's own schema is untouched otherwise."""
    hashes = [c.sha256 for c in chunks if c.poison]
    if not hashes:
        return
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            for statement in _POISON_SQL:
                conn.execute(sa.text(statement))
            conn.execute(
                sa.text("INSERT INTO soak_poison VALUES (:h) ON CONFLICT DO NOTHING"),
                [{"h": h} for h in hashes],
            )
    finally:
        engine.dispose()


def mix(count: int, seed: int = 0) -> list[BadChunk]:
    """`count` bad chunks cycling through every kind, reproducible from `seed`."""
    rng = random.Random(seed)
    names = sorted(KINDS)
    return [KINDS[names[i % len(names)]](rng) for i in range(count)]


Sent = tuple[BadChunk, str, int, dict]  # chunk, its chunk id, last HTTP status, answer


def send(ingest_url: str, token: str, chunks: list[BadChunk], started: datetime) -> list[Sent]:
    """Announce and upload each chunk as a device would (one a minute from `started`),
    retrying while faults take the server away; return what ingest answered."""
    url = ingest_url + "/api/v1/chunks/upload-url"
    auth = {"Authorization": f"Bearer {token}"}
    sent = []
    for i, chunk in enumerate(chunks):
        body = chunk.announcement(str(uuid.uuid4()), (started + timedelta(minutes=i)).isoformat())
        answer = _retrying("POST", url, json=body, headers=auth)
        payload = answer.json()
        if answer.status_code in (200, 201) and "upload" in payload:
            put = requests.put(
                payload["upload"]["url"],
                data=chunk.data,
                headers=payload["upload"]["headers"],
                timeout=60,
            )
            put.raise_for_status()
            # Announce again, as a device does, so ingest records the upload.
            answer = _retrying("POST", url, json=body, headers=auth)
            payload = answer.json()
        sent.append((chunk, body["chunk_id"], answer.status_code, payload))
    return sent


def _retrying(
    method: str, url: str, deadline_sec: float = 300.0, **kwargs: Any
) -> requests.Response:
    """A request retried like a device does while faults take the server away."""
    deadline = time.monotonic() + deadline_sec
    while True:
        try:
            answer = requests.request(method, url, timeout=30, **kwargs)
            if answer.status_code < 500 and answer.status_code != 429:
                return answer
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{method} {url} kept failing for {deadline_sec} s")
        time.sleep(0.5)
