"""Temporary pull subscriptions for the tests: see what the pipeline published."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from google.cloud import pubsub_v1


def subscribe(project: str, topic: str, **options: Any) -> str:
    """A new pull subscription on `topic` with a uuid in its name; its path."""
    with pubsub_v1.SubscriberClient() as subscriber:
        name = subscriber.subscription_path(project, f"test-{topic}-{uuid.uuid4().hex[:8]}")
        subscriber.create_subscription(
            name=name, topic=f"projects/{project}/topics/{topic}", **options
        )
    return name


class Watch:
    """What a temporary subscription received: `pull()` pulls once (acknowledging) and
    returns every message so far (PubsubMessage: .data, .attributes)."""

    def __init__(self, subscriber: pubsub_v1.SubscriberClient, name: str) -> None:
        self.subscriber, self.name = subscriber, name
        self.received: list[Any] = []

    def pull(self) -> list[Any]:
        response = self.subscriber.pull(subscription=self.name, max_messages=50, timeout=5)
        if response.received_messages:
            self.subscriber.acknowledge(
                subscription=self.name, ack_ids=[m.ack_id for m in response.received_messages]
            )
        self.received.extend(m.message for m in response.received_messages)
        return self.received


@contextmanager
def watch(project: str, topic: str) -> Iterator[Watch]:
    """A temporary pull subscription on `topic`, deleted afterwards."""
    subscriber = pubsub_v1.SubscriberClient()
    watching = Watch(subscriber, subscribe(project, topic))
    try:
        yield watching
    finally:
        subscriber.delete_subscription(subscription=watching.name)
        subscriber.close()


def bodies(messages: list[Any]) -> list[dict]:
    """The JSON payloads of pulled messages."""
    return [json.loads(m.data) for m in messages]
