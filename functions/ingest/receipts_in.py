"""Receipts coming in through `POST /api/v1/receipts` (which `python -m salescontrol
receipts import` calls too): each validated on its own (a bad one refused naming its
field, the rest kept), stored once per (point, kktRegId, fiscalDocumentNumber), given to
the point's register whose ККТ printed it (none: unassigned), then matched
(`salescontrol.receipts.rematch`).

The model is the tax service's receipt JSON (ОФД exports): sums in kopecks, other fields
ignored, the app export's wrapper {"ticket": {"document": {"receipt": ...}}} unwrapped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import pydantic
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.engine import Connection

from salescontrol import receipts
from salescontrol.config import settings
from salescontrol.errors import BadInput, Conflict

KktRegId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,20}$")]
Kopecks = Annotated[int, Field(ge=0, lt=2**53, strict=True, description="kopecks")]
MAX_ITEMS = 500
EARLIEST = datetime(2017, 1, 1, tzinfo=UTC)  # online ККТ (54-ФЗ) print from 2017


class ReceiptItem(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    price: Kopecks
    quantity: Annotated[float, Field(gt=0, lt=1e6, strict=True, allow_inf_nan=False)]
    sum: Kopecks


class Receipt(BaseModel):
    """A fiscal receipt: `dateTime` is ISO 8601 (local ККТ time in RECEIPTS_TIMEZONE
    when it has no offset) or Unix seconds; `totalSum` is the sum of the items' sums."""

    model_config = ConfigDict(extra="ignore")

    dateTime: datetime
    kktRegId: KktRegId
    fiscalDocumentNumber: Annotated[int, Field(ge=1, lt=2**53, strict=True)]
    items: Annotated[list[ReceiptItem], Field(min_length=1, max_length=MAX_ITEMS)]
    totalSum: Kopecks
    operator: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    operationType: Literal[1] = Field(1, description="1 (приход): refunds are not taken")

    @pydantic.model_validator(mode="before")
    @classmethod
    def _unwrap(cls, raw: Any) -> Any:
        for wrapper in ("ticket", "document", "receipt"):
            if isinstance(raw, dict) and isinstance(raw.get(wrapper), dict):
                raw = raw[wrapper]
        return raw

    @pydantic.field_validator("dateTime")
    @classmethod
    def _printed(cls, at: datetime) -> datetime:
        if at.tzinfo is None:  # the ККТ prints local time
            at = at.replace(tzinfo=ZoneInfo(settings().receipts_timezone))
        if at > datetime.now(UTC) + timedelta(seconds=settings().max_clock_skew_sec):
            raise ValueError("is in the future; check the ККТ clock")
        if at < EARLIEST:
            raise ValueError("is before 2017")
        return at.astimezone(UTC)

    @pydantic.field_validator("totalSum")
    @classmethod
    def _total(cls, total: int, info: pydantic.ValidationInfo) -> int:
        if "items" in info.data and total != sum(i.sum for i in info.data["items"]):
            raise ValueError("is not the sum of the items' sums")
        return total


def parse(raw: Any) -> Receipt:
    """One receipt, or BadInput naming the first wrong field (items.2.price)."""
    try:
        return Receipt.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "receipt"
        raise BadInput(f"{field}: {first['msg']}", field) from None


def _store(conn: Connection, point_id: UUID, r: Receipt, lemmas: Any) -> Any:
    """(True if new, the register or None); Conflict if stored with other contents."""
    key = {"p": point_id, "k": r.kktRegId, "n": r.fiscalDocumentNumber}
    register = conn.execute(
        sa.text("SELECT register_id FROM registers WHERE kkt_reg_id = :k AND point_id = :p"),
        key,
    ).scalar_one_or_none()
    items = [i.model_dump() for i in r.items]
    row = conn.execute(
        sa.text(
            "INSERT INTO receipts (point_id, kkt_reg_id, fiscal_document_number, register_id, "
            "printed_at, total_sum, items, item_lemmas, operator) VALUES (:p, :k, :n, :g, :at, "
            ":total, CAST(:items AS jsonb), CAST(:lemmas AS jsonb), :op) "
            "ON CONFLICT ON CONSTRAINT receipts_key DO NOTHING RETURNING register_id"
        ),
        {
            **key,
            "g": register,
            "at": r.dateTime,
            "total": r.totalSum,
            "items": json.dumps(items, ensure_ascii=False),
            "lemmas": json.dumps(lemmas, ensure_ascii=False),
            "op": r.operator or None,
        },
    ).first()
    if row is not None:
        return True, row.register_id
    old = conn.execute(
        sa.text(
            "SELECT printed_at, total_sum, items, register_id FROM receipts WHERE point_id = :p "
            "AND kkt_reg_id = :k AND fiscal_document_number = :n"
        ),
        key,
    ).one()
    if (old.printed_at, old.total_sum, old.items) != (r.dateTime, r.totalSum, items):
        raise Conflict(
            f"fiscalDocumentNumber: receipt {r.fiscalDocumentNumber} of ККТ {r.kktRegId} is "
            "already stored with another time, total or items",
            "fiscalDocumentNumber",
        )
    return False, old.register_id


def ingest(
    conn: Connection,
    point_id: UUID,
    batch: Iterable[Any],
    lemmatise: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """Validate, store and match the point's raw receipts: counts and the refused ones."""
    outcome: dict[str, Any] = {"stored": 0, "duplicates": 0, "unassigned": 0, "rejected": []}
    touched: dict[UUID, list[datetime]] = {}
    for index, raw in enumerate(batch):
        try:
            r = parse(raw)
            lemmas = [lemmatise(item.name)["lemmas"] for item in r.items]
            new, register = _store(conn, point_id, r, lemmas)
        except BadInput as exc:
            outcome["rejected"].append({"index": index, "field": exc.field, "message": exc.reason})
            continue
        outcome["stored" if new else "duplicates"] += 1
        outcome["unassigned"] += register is None
        if register is not None:
            touched.setdefault(register, []).append(r.dateTime)
    for register in sorted(touched):  # one lock order: concurrent batches cannot deadlock
        at = [receipts.epoch_ms(t) for t in touched[register]]
        receipts.rematch(conn, register, min(at), max(at))
    return outcome
