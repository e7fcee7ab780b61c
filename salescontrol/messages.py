"""The payloads on the pipeline's topics: one typed record per topic, JSON on the wire.

These records are the contract between neighbours (vad -> assemble -> asr -> analyze);
`publish()` sends one, `parse()` reads one from a received message.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from salescontrol import pubsub
from salescontrol.errors import BadInput
from salescontrol.events import Message


@dataclass(frozen=True)
class ChunkVadDone:
    """A chunk's speech segments are stored (vad -> assemble)."""

    TOPIC: ClassVar[str] = "chunk-vad-done"
    chunk_id: str
    device_id: str
    start_ms: int  # the chunk's span on the device timeline (epoch ms)
    end_ms: int


@dataclass(frozen=True)
class AsrRequest:
    """A dialogue's audio is in the bucket, ready for transcription (assemble -> asr)."""

    TOPIC: ClassVar[str] = "asr-requests"
    dialogue_id: str
    audio_object: str  # object name in AUDIO_BUCKET
    language: str = "ru"
    tier: str = "fast"  # "fast" | "accurate"
    force: bool = False  # re-run even if a transcript exists


@dataclass(frozen=True)
class TranscriptReady:
    """A dialogue's transcript is stored (asr -> analyze)."""

    TOPIC: ClassVar[str] = "transcripts-ready"
    dialogue_id: str
    force: bool = False  # re-analyse even if an analysis exists


Payload = ChunkVadDone | AsrRequest | TranscriptReady
P = TypeVar("P", ChunkVadDone, AsrRequest, TranscriptReady)
ALL: tuple[type, ...] = (ChunkVadDone, AsrRequest, TranscriptReady)


def publish(payload: Payload, **attributes: str) -> str:
    """Publish a payload on its topic; wait for Pub/Sub to accept it."""
    return pubsub.publish(payload.TOPIC, dataclasses.asdict(payload), **attributes)


def _type_ok(value: Any, annotation: Any) -> bool:
    if isinstance(annotation, types.UnionType):
        return any(_type_ok(value, arg) for arg in typing.get_args(annotation))
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def parse(cls: type[P], message: Message) -> P:
    """Read a payload of type `cls` from a message, or BadInput naming the field."""
    data = message.json()
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING:
                raise BadInput(f"message {message.message_id}: missing {f.name}", f.name)
            continue
        if not _type_ok(data[f.name], hints[f.name]):
            raise BadInput(f"message {message.message_id}: bad {f.name}", f.name)
        values[f.name] = data[f.name]
    return cls(**values)
