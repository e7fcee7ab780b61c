"""Pub/Sub push envelopes through functions-framework into `events.handler`."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import functions_framework
import pytest
from cloudevents.http import CloudEvent

from salescontrol import events
from salescontrol.errors import BadInput

SOURCE = Path(__file__).parent / "test_data" / "functions" / "recorder_fn.py"

# The attributes and payload fake-gcs-server published for an upload (captured).
GCS_ATTRIBUTES = {
    "eventType": "OBJECT_FINALIZE",
    "bucketId": "audio",
    "objectGeneration": "1795572383731117",
    "objectId": "chunks/dev/2026/11/25/x.ogg",
    "payloadFormat": "JSON_API_V1",
    "eventTime": "2026-11-25T02:06:23Z",
}
GCS_PAYLOAD = {
    "kind": "storage#object",
    "id": "audio/chunks/dev/2026/11/25/x.ogg#1795572383731117",
    "name": "chunks/dev/2026/11/25/x.ogg",
    "bucket": "audio",
    "generation": "1795572383731117",
    "contentType": "audio/ogg",
    "size": "1004",
}


def push(data: bytes, attributes: dict[str, str] | None = None) -> dict:
    """The body a Pub/Sub push subscription POSTs."""
    return {
        "subscription": "projects/p/subscriptions/vad",
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes or {},
            "messageId": "42",
            "publishTime": "2026-11-25T02:06:23Z",
        },
    }


@pytest.fixture
def client():
    app = functions_framework.create_app("recorder_fn", str(SOURCE))
    module = sys.modules["recorder_fn"]  # functions-framework names it after the file
    module.SEEN.clear()
    return app.test_client(), module.SEEN


def test_storage_notification_is_decoded(client) -> None:
    test_client, seen = client
    response = test_client.post("/", json=push(json.dumps(GCS_PAYLOAD).encode(), GCS_ATTRIBUTES))
    assert response.status_code == 200
    assert seen == [
        events.StorageObject(
            "OBJECT_FINALIZE",
            "audio",
            "chunks/dev/2026/11/25/x.ogg",
            1795572383731117,
            1004,
            "audio/ogg",
        )
    ]


def test_json_message_is_decoded(client) -> None:
    test_client, seen = client
    assert test_client.post("/", json=push(b'{"chunk_id": "c1"}')).status_code == 200
    assert seen == [{"chunk_id": "c1"}]


@pytest.mark.parametrize(
    ("data", "attributes"),
    [
        (b"not json", {}),
        (b"[1, 2]", {}),
        (b"{}", {"payloadFormat": "JSON_API_V1"}),
        (b"{}", {"mode": "bad"}),
    ],
    ids=["not-json", "not-object", "no-object-fields", "handler-bad-input"],
)
def test_bad_input_is_acknowledged(client, data, attributes) -> None:
    test_client, seen = client
    assert test_client.post("/", json=push(data, attributes)).status_code == 200
    assert seen == []


def test_transient_error_asks_for_redelivery(client) -> None:
    test_client, _ = client
    response = test_client.post("/", json=push(b"{}", {"mode": "transient"}))
    assert response.status_code == 500


def test_non_pubsub_event_type_is_refused() -> None:
    event = CloudEvent(
        {"type": "google.cloud.storage.object.v1.finalized", "source": "//storage", "id": "1"}, {}
    )
    with pytest.raises(BadInput, match="unexpected event type"):
        events.message(event)


def test_a_built_notification_reads_back_as_the_same_object() -> None:
    """The sweeper's re-sent notification and vad's parser are one record."""
    obj = events.StorageObject("OBJECT_FINALIZE", "b", "chunks/x.ogg", 17, 2048, "audio/ogg")
    payload, attributes = obj.notification()
    msg = events.Message("m1", attributes, json.dumps(payload).encode())
    assert events.storage_object(msg) == obj
