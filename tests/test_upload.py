"""A real opus chunk goes device -> signed URL -> bucket -> OBJECT_FINALIZE on Pub/Sub."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import requests
import soundfile as sf
import sqlalchemy as sa

from devkit.waiting import poll_until
from salescontrol import storage
from tests.pubsub_kit import watch

UPLOAD = "/api/v1/chunks/upload-url"


@pytest.fixture(scope="module")
def opus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "chunk.ogg"
    t = np.arange(16000 * 5) / 16000
    tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    sf.write(path, tone.astype("float32"), 16000, format="OGG", subtype="OPUS")
    return path


@pytest.fixture
def chunk_uploaded_messages(stack_env):
    """A temporary pull subscription on chunk-uploaded; yields a pull-by-object function."""
    with watch(stack_env["GOOGLE_CLOUD_PROJECT"], "chunk-uploaded") as chunk_uploaded:

        def pull_for(object_name: str, deadline_sec: float = 20.0) -> list:
            return poll_until(
                lambda: [
                    m for m in chunk_uploaded.pull() if m.attributes.get("objectId") == object_name
                ],
                deadline_sec,
                message=f"the notification of {object_name}",
            )

        yield pull_for


def test_signed_put_lands_and_notifies(
    api, device, opus_file, chunk_uploaded_messages, engine, stack_env
) -> None:
    data = opus_file.read_bytes()
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    body = {
        "chunk_id": str(uuid.uuid4()),
        "started_at": started.isoformat(),
        "duration_sec": 5.0,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    response = api.call("POST", UPLOAD, token=device["token"], json=body)
    assert response.status_code == 201, response.text
    result = response.json()
    object_name = result["object_name"]
    assert object_name == (
        f"chunks/{device['device_id']}/{started:%Y/%m/%d}/"
        f"{started:%Y%m%dT%H%M%SZ}_{body['chunk_id']}.ogg"
    )
    upload = result["upload"]
    query = parse_qs(urlparse(upload["url"]).query)
    signed = query["X-Goog-SignedHeaders"][0].split(";")
    assert {"content-type", "x-goog-if-generation-match", "x-goog-content-length-range"} <= set(
        signed
    )
    assert int(query["X-Goog-Expires"][0]) <= 900
    assert upload["headers"]["x-goog-if-generation-match"] == "0"
    assert upload["headers"]["x-goog-content-length-range"] == f"{len(data)},{len(data)}"

    put = requests.put(upload["url"], data=data, headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text

    blob = storage.bucket().get_blob(object_name)
    assert blob is not None and blob.download_as_bytes() == data
    messages = chunk_uploaded_messages(object_name)
    assert len(messages) >= 1
    message = messages[0]
    assert message.attributes["eventType"] == "OBJECT_FINALIZE"
    assert message.attributes["payloadFormat"] == "JSON_API_V1"
    assert message.attributes["bucketId"] == stack_env["AUDIO_BUCKET"]
    payload = json.loads(message.data)
    assert payload["name"] == object_name
    assert int(payload["size"]) == len(data)
    assert int(payload["generation"]) == blob.generation

    again = api.call("POST", UPLOAD, token=device["token"], json=body)
    assert again.status_code == 200
    assert again.json()["already_uploaded"] is True
    assert "upload" not in again.json()
    with engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM audio_chunks WHERE chunk_id = :c"), {"c": body["chunk_id"]}
        ).scalar_one()
    assert status in ("UPLOADED", "PROCESSING", "DONE")  # vad may have taken it further
