"""Request bodies of the ingest API, validated field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from receipts_in import KktRegId

from salescontrol import erasure
from salescontrol.chunks import CODECS
from salescontrol.config import settings
from salescontrol.devices import MIN_TOKEN_LENGTH

EARLIEST_CHUNK = datetime(2020, 1, 1, tzinfo=UTC)

Token = Annotated[
    str,
    StringConstraints(min_length=MIN_TOKEN_LENGTH, max_length=256, pattern=r"^[\x21-\x7e]+$"),
]
# No control characters: Postgres text cannot hold NUL, and names are shown on pages.
Name = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=200, strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]


def _utc_in_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone, e.g. 2026-11-25T08:00:00Z")
    value = value.astimezone(UTC)
    latest = datetime.now(UTC) + timedelta(seconds=settings().max_clock_skew_sec)
    if value > latest:
        raise ValueError("is in the future; check the device clock (NTP)")
    if value < EARLIEST_CHUNK:
        raise ValueError("is before 2020; the device clock is not set")
    return value


def _duration_in_range(value: float) -> float:
    if value > settings().max_chunk_duration_sec:
        raise ValueError(f"must be at most {settings().max_chunk_duration_sec} s")
    return value


def _size_in_range(value: int) -> int:
    if value > settings().max_chunk_bytes:
        raise ValueError(f"must be at most {settings().max_chunk_bytes} bytes")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceRegistration(Strict):
    device_id: UUID
    point_id: UUID
    register_id: UUID
    token: Token | None = None
    is_enabled: bool = True
    point_name: Name | None = None
    register_name: Name | None = None
    kkt_reg_id: KktRegId | None = None


class DeviceUpdate(Strict):
    """Enable/disable, and set (null: clear) the register's ККТ; at least one of them."""

    is_enabled: bool | None = None
    kkt_reg_id: KktRegId | None = None

    @model_validator(mode="after")
    def _something(self) -> DeviceUpdate:
        if not self.model_fields_set:
            raise ValueError("give is_enabled, kkt_reg_id or both")
        if "is_enabled" in self.model_fields_set and self.is_enabled is None:
            raise ValueError("is_enabled must be true or false")
        return self


class TokenRotation(Strict):
    token: Token | None = None


class ChunkAnnouncement(Strict):
    chunk_id: UUID
    started_at: Annotated[datetime, AfterValidator(_utc_in_range)]
    duration_sec: Annotated[float, Field(gt=0), AfterValidator(_duration_in_range)]
    size_bytes: Annotated[int, Field(ge=0), AfterValidator(_size_in_range)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$", to_lower=True)]
    codec: Literal[tuple(CODECS)] = "opus"  # type: ignore[valid-type]
    sample_rate: Annotated[int, Field(ge=8000, le=48000)] = 16000


class ReceiptBatch(Strict):
    """Receipts to store; each is validated on its own (receipts_in.Receipt), so the
    document names that model for the items."""

    receipts: Annotated[list[Any], Field(min_length=1, max_length=1000)]


class ChunkStatusQuery(Strict):
    """The device's chunks whose verdict it waits for (others' ids are answered as unknown)."""

    chunk_ids: Annotated[list[UUID], Field(min_length=1, max_length=100)]


class ErasureRequest(Strict):
    """Exactly one of: `dialogue_id`; `device_id` with `from_at` and `to_at`; `before`."""

    erasure_id: UUID | None = Field(None, description="makes a repeated request idempotent")
    dialogue_id: UUID | None = None
    device_id: UUID | None = None
    from_at: AwareDatetime | None = None
    to_at: AwareDatetime | None = None
    before: AwareDatetime | None = None
    requested_by: Name = Field(description="who asked, e.g. the privacy officer and ticket")
    reason: Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")] | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> ErasureRequest:
        ranged = (self.device_id, self.from_at, self.to_at)
        given = [self.dialogue_id is not None, any(ranged), self.before is not None]
        if sum(given) != 1 or (given[1] and not all(ranged)):
            raise ValueError(
                "give exactly one of: dialogue_id; device_id with from_at and to_at; before"
            )
        return self

    def scope(self) -> erasure.Scope:
        if self.dialogue_id:
            return erasure.Scope(erasure.DIALOGUE, dialogue_id=self.dialogue_id)
        if self.before:
            return erasure.Scope(erasure.BEFORE, to_at=self.before)
        return erasure.Scope(erasure.DEVICE, None, self.device_id, self.from_at, self.to_at)


class Heartbeat(Strict):
    """A device's health report; kept as sent (bounded by the request size limit)."""

    model_config = ConfigDict(extra="allow")

    def report(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ErrorBody(BaseModel):
    """Every error answer of the ingest API."""

    error: str = Field(description="machine-readable code, e.g. invalid_request, rate_limited")
    message: str = Field(description="what is wrong, for a person")
    field: str | None = Field(None, description="the offending field of the request, if known")
