"""Create the bucket, topics and subscriptions of topology.yaml on the emulators.

In the cloud Terraform creates the same things from the same file; this module is the
local counterpart. Creation is idempotent: what exists already is left as it is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1, storage
from google.protobuf import duration_pb2
from google.pubsub_v1 import types

from salescontrol.topology import Subscription, Topology


@contextlib.contextmanager
def using_env(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block: the client libraries find the emulators
    through them (PUBSUB_EMULATOR_HOST, STORAGE_EMULATOR_HOST)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def create_bucket(project: str, bucket: str) -> None:
    """Create `bucket` on the storage emulator."""
    with storage.Client(project=project) as client, contextlib.suppress(gexc.Conflict):
        client.create_bucket(bucket)


def create_topics(project: str, topo: Topology) -> None:
    """Create every topic of the topology, dead-letter topics included."""
    publisher = pubsub_v1.PublisherClient()
    for topic in topo.all_topics:
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(project, topic))


def _seconds(value: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=value)


# The Pub/Sub emulator strands a push message whose delivery failed a few times when its
# subscription has a retry policy: it is neither pushed again nor dead-lettered. Measured
# here (gcloud 528, emulator 0.8.20), 50 messages to an endpoint failing for 20 s: none
# delivered in 300 s with backoff 1-10 s, 37 with 10-600 s; all 50 within 4 s of recovery
# without a policy, when the emulator retries about once a second. So locally a push
# subscription gets no retry policy and enough attempts to outlast a restart before
# dead-lettering (Pub/Sub's maximum, about 100 s of failures); Terraform applies the
# topology's policy, which real Pub/Sub honours.
EMULATOR_PUSH_MAX_DELIVERY_ATTEMPTS = 100


def subscription_request(
    project: str, sub: Subscription, push_endpoint: str | None = None
) -> dict[str, Any]:
    """The CreateSubscription request of `sub` on the emulator (push if an endpoint)."""
    topic = f"projects/{project}/topics/"
    request: dict[str, Any] = {
        "name": f"projects/{project}/subscriptions/{sub.name}",
        "topic": topic + sub.topic,
        "ack_deadline_seconds": sub.ack_deadline_sec,
        "message_retention_duration": _seconds(sub.message_retention_sec),
        "retry_policy": types.RetryPolicy(
            minimum_backoff=_seconds(sub.min_backoff_sec),
            maximum_backoff=_seconds(sub.max_backoff_sec),
        ),
        "dead_letter_policy": types.DeadLetterPolicy(
            dead_letter_topic=topic + sub.dead_letter_topic,
            max_delivery_attempts=sub.max_delivery_attempts,
        ),
    }
    if push_endpoint:
        request["push_config"] = types.PushConfig(push_endpoint=push_endpoint)
        del request["retry_policy"]
        request["dead_letter_policy"].max_delivery_attempts = EMULATOR_PUSH_MAX_DELIVERY_ATTEMPTS
    return request


def create_subscriptions(project: str, topo: Topology, push_endpoints: dict[str, str]) -> None:
    """Create every subscription (push where an endpoint is given) and its dead-letter one."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    with subscriber:
        for sub in topo.subscriptions.values():
            request = subscription_request(project, sub, push_endpoints.get(sub.name))
            dead = {
                "name": subscriber.subscription_path(project, sub.dead_letter_topic),
                "topic": publisher.topic_path(project, sub.dead_letter_topic),
                "message_retention_duration": _seconds(sub.message_retention_sec),
            }
            for req in (dead, request):
                with contextlib.suppress(gexc.AlreadyExists):
                    subscriber.create_subscription(request=req)
