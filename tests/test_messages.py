"""Message payloads: topics exist in the topology, round trips, clear errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

from salescontrol import messages, topology
from salescontrol.errors import BadInput
from salescontrol.events import Message


def as_message(data: dict) -> Message:
    return Message("1", {}, json.dumps(data).encode())


def test_every_payload_topic_is_in_the_topology() -> None:
    assert {cls.TOPIC for cls in messages.ALL} <= set(topology.load().topics)


def test_round_trip_with_defaults() -> None:
    sent = messages.AsrRequest(dialogue_id="d1", audio_object="dialogues/x.ogg")
    got = messages.parse(messages.AsrRequest, as_message(dataclasses.asdict(sent)))
    assert got == sent and got.tier == "fast" and got.force is False
    only_required = messages.parse(messages.TranscriptReady, as_message({"dialogue_id": "d"}))
    assert only_required == messages.TranscriptReady("d")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "dialogue_id"),
        ({"dialogue_id": 5}, "dialogue_id"),
        ({"dialogue_id": "d", "force": "yes"}, "force"),
    ],
)
def test_bad_payload_names_the_field(data, field) -> None:
    with pytest.raises(BadInput) as error:
        messages.parse(messages.TranscriptReady, as_message(data))
    assert error.value.field == field


def test_int_fields_refuse_booleans() -> None:
    data = {"chunk_id": "c", "device_id": "d", "start_ms": True, "end_ms": 1}
    with pytest.raises(BadInput, match="start_ms"):
        messages.parse(messages.ChunkVadDone, as_message(data))
