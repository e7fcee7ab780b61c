"""The one check incoming ids pass."""

from __future__ import annotations

import uuid

import pytest

from salescontrol.errors import BadInput
from salescontrol.ids import parse_id


def test_a_uuid_string_or_uuid_passes() -> None:
    value = uuid.uuid4()
    assert parse_id(str(value), "device_id") == value
    assert parse_id(value, "device_id") is value


@pytest.mark.parametrize("bad", ["", "x", "1" * 4000, None, 17, b"\x00", ["a"], "../../etc"])
def test_anything_else_is_bad_input_naming_the_field(bad: object) -> None:
    with pytest.raises(BadInput) as caught:
        parse_id(bad, "dialogue_id")
    assert caught.value.field == "dialogue_id"
    assert "dialogue_id must be a UUID" in caught.value.reason
    assert len(caught.value.reason) < 120
