"""A CloudEvent function for tests/test_events.py: records what the handler got."""

import functions_framework

from salescontrol import events
from salescontrol.errors import BadInput, TransientError

SEEN: list = []


@functions_framework.cloud_event
@events.handler
def recorder_fn(message: events.Message) -> None:
    if message.attributes.get("mode") == "transient":
        raise TransientError("database is down")
    if message.attributes.get("mode") == "bad":
        raise BadInput("chunk is not audio")
    if message.attributes.get("payloadFormat"):
        SEEN.append(events.storage_object(message))
    else:
        SEEN.append(message.json())
