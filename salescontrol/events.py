"""Decoding the events functions receive, and the handler shape they share.

A push subscription POSTs the raw Pub/Sub envelope; functions-framework turns it into a
CloudEvent of type google.cloud.pubsub.topic.v1.messagePublished whose data is
{"message": {"data": base64, "attributes": {...}, "messageId": ...}}. Bucket
notifications arrive the same way, with the object resource (JSON_API_V1) as the data.

Every handler follows three steps: check the event type; decode and validate the
envelope here, where any failure becomes a BadInput naming the payload; then do the
work idempotently and commit before publishing. `handler()` wraps that: BadInput is
logged and acknowledged (return), TransientError propagates, so the platform answers
500 and Pub/Sub redelivers with backoff (dead-lettered after max_delivery_attempts).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudevents.http import CloudEvent

from salescontrol.errors import BadInput

log = logging.getLogger(__name__)

PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"
JSON_API_V1 = "JSON_API_V1"
OBJECT_FINALIZE = "OBJECT_FINALIZE"


@dataclass(frozen=True)
class Message:
    message_id: str
    attributes: dict[str, str]
    data: bytes

    def json(self) -> dict[str, Any]:
        """The data as a JSON object, or BadInput."""
        try:
            value = json.loads(self.data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"message {self.message_id}: data is not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise BadInput(f"message {self.message_id}: data is not a JSON object")
        return value


@dataclass(frozen=True)
class StorageObject:
    """The object of a Cloud Storage notification (JSON_API_V1): read from a message by
    `storage_object()`, written by `notification()` (the sweeper's re-sent notice)."""

    event_type: str
    bucket: str
    name: str
    generation: int
    size: int
    content_type: str | None = None

    def notification(self) -> tuple[dict[str, str], dict[str, str]]:
        """The payload and attributes GCS publishes for this object."""
        payload = {
            "kind": "storage#object",
            "bucket": self.bucket,
            "name": self.name,
            "generation": str(self.generation),
            "size": str(self.size),
            **({"contentType": self.content_type} if self.content_type else {}),
        }
        attributes = {
            "payloadFormat": JSON_API_V1,
            "eventType": self.event_type,
            "bucketId": self.bucket,
            "objectId": self.name,
            "objectGeneration": str(self.generation),
        }
        return payload, attributes


def message(event: CloudEvent) -> Message:
    """The Pub/Sub message inside a CloudEvent, or BadInput."""
    if event["type"] != PUBSUB_EVENT:
        raise BadInput(f"unexpected event type {event['type']!r}, want {PUBSUB_EVENT}")
    data = event.data if isinstance(event.data, dict) else {}
    raw = data.get("message")
    if not isinstance(raw, dict):
        raise BadInput(f"event {event['id']}: no Pub/Sub message in the payload")
    message_id = str(raw.get("messageId") or event["id"])
    try:
        body = base64.b64decode(raw.get("data") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise BadInput(f"message {message_id}: data is not base64") from None
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise BadInput(f"message {message_id}: attributes are not a map")
    return Message(message_id, {str(k): str(v) for k, v in attributes.items()}, body)


def storage_object(msg: Message) -> StorageObject:
    """The object a bucket notification is about, or BadInput."""
    if msg.attributes.get("payloadFormat") != JSON_API_V1:
        raise BadInput(f"message {msg.message_id}: not a JSON_API_V1 storage notification")
    resource = msg.json()
    try:
        return StorageObject(
            event_type=msg.attributes.get("eventType", ""),
            bucket=str(resource["bucket"]),
            name=str(resource["name"]),
            generation=int(resource["generation"]),
            size=int(resource.get("size", 0)),
            content_type=resource.get("contentType"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"message {msg.message_id}: bad object resource ({exc!r})") from None


def handler(fn: Callable[[Message], None]) -> Callable[[CloudEvent], None]:
    """Wrap `fn(message)` as a CloudEvent function with the ack/redeliver contract."""

    @functools.wraps(fn)
    def run(event: CloudEvent) -> None:
        try:
            fn(message(event))
        except BadInput as exc:
            # Acknowledged: redelivering input that can never succeed only loops.
            log.warning(
                "bad input acknowledged: %s",
                exc.reason,
                extra={"handler": fn.__name__, "event_id": event["id"]},
            )

    return run
