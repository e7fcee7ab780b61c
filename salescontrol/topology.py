"""The messaging topology of topology.yaml as typed records, plus creating it."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

TOPOLOGY_FILE = Path(__file__).with_name("topology.yaml")


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    ack_deadline_sec: int
    dead_letter_topic: str
    max_delivery_attempts: int
    min_backoff_sec: int
    max_backoff_sec: int
    message_retention_sec: int


@dataclass(frozen=True)
class Notification:
    topic: str
    object_prefix: str
    event_types: tuple[str, ...]
    payload_format: str


@dataclass(frozen=True)
class Function:
    name: str
    trigger: str  # "http" or a subscription name


@dataclass(frozen=True)
class Topology:
    topics: dict[str, str]
    subscriptions: dict[str, Subscription]
    notifications: tuple[Notification, ...]
    functions: dict[str, Function]
    object_prefixes: dict[str, str]  # "chunks" / "dialogues" -> "chunks/" / "dialogues/"

    def push_target(self, subscription: str) -> Function | None:
        """The function a subscription pushes to, if any."""
        return next((f for f in self.functions.values() if f.trigger == subscription), None)

    @property
    def chunk_notification(self) -> Notification:
        """The bucket notification that announces new chunks."""
        prefix = self.object_prefixes["chunks"]
        return next(n for n in self.notifications if n.object_prefix == prefix)

    @property
    def all_topics(self) -> list[str]:
        """Topics including the dead-letter ones."""
        return list(self.topics) + [s.dead_letter_topic for s in self.subscriptions.values()]


@functools.cache
def load(path: Path = TOPOLOGY_FILE) -> Topology:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = raw["subscription_defaults"]
    subs = {
        name: Subscription(
            name=name,
            topic=spec["topic"],
            ack_deadline_sec=spec["ack_deadline_sec"],
            dead_letter_topic=spec["dead_letter_topic"],
            max_delivery_attempts=spec.get(
                "max_delivery_attempts", defaults["max_delivery_attempts"]
            ),
            min_backoff_sec=spec.get("min_backoff_sec", defaults["min_backoff_sec"]),
            max_backoff_sec=spec.get("max_backoff_sec", defaults["max_backoff_sec"]),
            message_retention_sec=spec.get(
                "message_retention_sec", defaults["message_retention_sec"]
            ),
        )
        for name, spec in raw["subscriptions"].items()
    }
    notes = tuple(
        Notification(
            topic=n["topic"],
            object_prefix=n["object_prefix"],
            event_types=tuple(n["event_types"]),
            payload_format=n["payload_format"],
        )
        for n in raw["bucket_notifications"]
    )
    funcs = {name: Function(name, spec["trigger"]) for name, spec in raw["functions"].items()}
    prefixes = dict(raw["object_prefixes"])
    for note in notes:
        if note.object_prefix not in prefixes.values():
            raise ValueError(
                f"{path}: notification prefix {note.object_prefix} is no object prefix"
            )
    return Topology(dict(raw["topics"]), subs, notes, funcs, prefixes)
