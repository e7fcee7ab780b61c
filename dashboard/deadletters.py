"""How many messages wait in each dead-letter subscription of topology.yaml.

Pub/Sub has no "count" call. We pull one batch without acknowledging it and release the
leases at once (ack deadline 0), so nothing is consumed. One pull returns at most
MAX_COUNT messages and may return fewer than are stored, so the figure is a lower bound
("at least N"); in the cloud, Cloud Monitoring's num_undelivered_messages is the exact one.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from salescontrol import topology
from salescontrol.config import settings

log = logging.getLogger(__name__)

MAX_COUNT = 1000
PULL_TIMEOUT_SEC = 5.0


@dataclass(frozen=True)
class DeadLetters:
    subscription: str  # the dead-letter pull subscription
    source: str  # the subscription whose failures land there
    count: int | None  # None: could not be read
    error: str = ""


def _count(subscriber: pubsub_v1.SubscriberClient, path: str) -> int:
    # return_immediately is deprecated (it may return fewer messages), but without it an
    # empty subscription blocks the page until the timeout; a lower bound is all we claim.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The return_immediately flag", DeprecationWarning)
        response = subscriber.pull(
            request={"subscription": path, "max_messages": MAX_COUNT, "return_immediately": True},
            timeout=PULL_TIMEOUT_SEC,
        )
    ack_ids = [m.ack_id for m in response.received_messages]
    if ack_ids:
        subscriber.modify_ack_deadline(
            request={"subscription": path, "ack_ids": ack_ids, "ack_deadline_seconds": 0}
        )
    return len({m.message.message_id for m in response.received_messages})


def counts() -> list[DeadLetters]:
    """One entry per dead-letter subscription; unreadable ones carry the error."""
    project = settings().google_cloud_project
    result = []
    with pubsub_v1.SubscriberClient() as subscriber:
        for sub in topology.load().subscriptions.values():
            path = subscriber.subscription_path(project, sub.dead_letter_topic)
            try:
                result.append(
                    DeadLetters(sub.dead_letter_topic, sub.name, _count(subscriber, path))
                )
            except gexc.GoogleAPIError as exc:
                log.warning("reading %s failed: %s", path, exc)
                result.append(DeadLetters(sub.dead_letter_topic, sub.name, None, str(exc)))
    return result
