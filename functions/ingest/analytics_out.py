"""`GET /api/v1/analytics/daily`: the daily figures (`salescontrol.analytics`) as JSON.

Who may ask: the admin (every point), or a point's integration token, the one its POS
posts receipts with (`receipt_tokens`), which reads its own point only. Days are local
days of DASHBOARD_TIMEZONE, the dashboard's, so the API and the dashboard's overview and
exports give the same numbers for the same period.
"""

from __future__ import annotations

import hmac
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pydantic
import receipt_tokens
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.engine import Connection

from salescontrol import analytics
from salescontrol.config import settings
from salescontrol.errors import BadInput, Forbidden, Unauthorized

DEFAULT_DAYS = 7
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)  # days anyone could mean


class AnalyticsQuery(BaseModel):
    """The query string: local days `from`..`to` (YYYY-MM-DD, both included; default the
    last 7 days through today), optionally one point or one register."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    date_from: date | None = Field(None, alias="from", description="first day, YYYY-MM-DD")
    date_to: date | None = Field(None, alias="to", description="last day, YYYY-MM-DD")
    point_id: UUID | None = Field(None, description="one point only")
    register_id: UUID | None = Field(None, description="one register only")

    @model_validator(mode="after")
    def _period(self) -> AnalyticsQuery:
        for name, day in (("from", self.date_from), ("to", self.date_to)):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise ValueError(f"`{name}` must lie between {EARLIEST} and {LATEST}")
        if self.date_from and self.date_to:
            if self.date_from > self.date_to:
                raise ValueError("`from` is after `to`")
            if (self.date_to - self.date_from).days >= analytics.MAX_DAYS:
                raise ValueError(f"a period is at most {analytics.MAX_DAYS} days")
        return self


def parse_query(args: Any) -> AnalyticsQuery:
    """The request's query string (a werkzeug MultiDict) as an AnalyticsQuery; BadInput
    naming the parameter otherwise (a parameter given twice is refused too)."""
    repeated = [k for k, values in args.lists() if len(values) > 1]
    if repeated:
        raise BadInput(f"{repeated[0]}: given more than once", repeated[0])
    try:
        return AnalyticsQuery.model_validate(args.to_dict(flat=True))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"]
        raise BadInput(f"{field}: {message}" if field else message, field) from None


def reach(conn: Connection, token: str | None) -> frozenset[UUID] | None:
    """The points `token` may read: None (every point) for the admin token, its own point
    for a point's integration token; Unauthorized for anything else."""
    if not token:
        raise Unauthorized("missing token (Authorization: Bearer <ADMIN_TOKEN or a point's>)")
    admin = settings().admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return None
    return frozenset({receipt_tokens.authenticate(conn, token)})


def daily(conn: Connection, query: AnalyticsQuery, points: frozenset[UUID] | None) -> dict:
    """The answer: the period, its totals, and its figures per day, per day and register,
    per day and cashier and per day and seller."""
    if points is not None and query.point_id is not None and query.point_id not in points:
        raise Forbidden("this token reads its own point's figures only", "point_id")
    tz = settings().dashboard_timezone
    today = datetime.now(ZoneInfo(tz)).date()
    date_to = query.date_to or (
        query.date_from + timedelta(days=DEFAULT_DAYS - 1) if query.date_from else today
    )
    date_from = query.date_from or min(date_to, today) - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise BadInput("`from` is after `to`", "from")
    period = analytics.Period(date_from, date_to, tz, points, query.point_id, query.register_id)
    figures = analytics.daily(conn, period)
    answer: dict[str, Any] = {
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "timezone": tz,
        "point_id": _id(query.point_id),
        "register_id": _id(query.register_id),
        "currency": "RUB kopecks",
        "totals": analytics.total(figures.places).public(),
        "days": [
            {"date": day.isoformat(), **f.public()}
            for day, f in sorted(analytics.rollup(figures.places, lambda r: r.day).items())
        ],
        "registers": [
            {
                **_place(r),
                "register_id": _id(r.register_id),
                "register_name": r.register_name,
                **r.figures.public(),
            }
            for r in figures.places
        ],
        "cashiers": [
            {**_place(r), "operator": r.operator, **r.figures.public()} for r in figures.cashiers
        ],
        "sellers": [
            {
                **_place(r),
                "seller_id": _id(r.seller_id),
                "seller_name": r.seller_name,
                **r.figures.public(),
            }
            for r in figures.sellers
        ],
    }
    return answer


def _place(row: analytics.Row) -> dict[str, Any]:
    return {
        "date": row.day.isoformat(),
        "point_id": _id(row.point_id),
        "point_name": row.point_name,
    }


def _id(value: UUID | None) -> str | None:
    return None if value is None else str(value)
