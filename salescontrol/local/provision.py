"""Create the bucket, topics and subscriptions of topology.yaml on the emulators.

In the cloud Terraform creates the same things from the same file; this module is the
local counterpart. Creation is idempotent: what exists already is left as it is.
"""

from __future__ import annotations

import contextlib

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1, storage
from google.protobuf import duration_pb2
from google.pubsub_v1 import types

from salescontrol.topology import Topology


def create_bucket(project: str, bucket: str) -> None:
    with storage.Client(project=project) as client, contextlib.suppress(gexc.Conflict):
        client.create_bucket(bucket)


def create_topics(project: str, topo: Topology) -> None:
    publisher = pubsub_v1.PublisherClient()
    for topic in topo.all_topics:
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(project, topic))


def _seconds(value: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=value)


def create_subscriptions(project: str, topo: Topology, push_endpoints: dict[str, str]) -> None:
    """Create every subscription (push where an endpoint is given) and its dead-letter one."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    with subscriber:
        for sub in topo.subscriptions.values():
            request = {
                "name": subscriber.subscription_path(project, sub.name),
                "topic": publisher.topic_path(project, sub.topic),
                "ack_deadline_seconds": sub.ack_deadline_sec,
                "message_retention_duration": _seconds(sub.message_retention_sec),
                "retry_policy": types.RetryPolicy(
                    minimum_backoff=_seconds(sub.min_backoff_sec),
                    maximum_backoff=_seconds(sub.max_backoff_sec),
                ),
                "dead_letter_policy": types.DeadLetterPolicy(
                    dead_letter_topic=publisher.topic_path(project, sub.dead_letter_topic),
                    max_delivery_attempts=sub.max_delivery_attempts,
                ),
            }
            if sub.name in push_endpoints:
                request["push_config"] = types.PushConfig(push_endpoint=push_endpoints[sub.name])
            dead = {
                "name": subscriber.subscription_path(project, sub.dead_letter_topic),
                "topic": publisher.topic_path(project, sub.dead_letter_topic),
                "message_retention_duration": _seconds(sub.message_retention_sec),
            }
            for req in (dead, request):
                with contextlib.suppress(gexc.AlreadyExists):
                    subscriber.create_subscription(request=req)
