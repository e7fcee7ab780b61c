"""Pub/Sub publishing with one client per process (the emulator is used when
PUBSUB_EMULATOR_HOST is set; the client library reads it itself)."""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from salescontrol.config import settings
from salescontrol.errors import TransientError

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SEC = 30.0


@functools.cache
def publisher() -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient()


def topic_path(topic: str) -> str:
    return publisher().topic_path(settings().google_cloud_project, topic)


def publish(topic: str, payload: dict[str, Any], **attributes: str) -> str:
    """Publish a JSON message and wait until Pub/Sub has it; return its message id."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        future = publisher().publish(topic_path(topic), data, **attributes)
        return future.result(timeout=PUBLISH_TIMEOUT_SEC)
    except (gexc.GoogleAPIError, TimeoutError) as exc:
        raise TransientError(f"publishing to {topic} failed: {exc}") from exc
