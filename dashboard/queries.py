"""The dashboard's data layer: SQL aggregates and pages; Python at most adds up the small
per-day rows of `salescontrol.analytics` (the figures the API and the digest show too).

Every function takes a Connection and the `Reach` of the user asking (the points they
may see: every point for an owner, their own for a manager or viewer), and returns
small typed records or lists of dicts, so the pages stay thin and the queries can be
tested and benchmarked on their own. No query runs without a reach: a manager's page
cannot show another point's data by forgetting a filter.
Rates are taken over analysed sales dialogues (`is_sales_dialogue` not false): a seller
cannot be blamed for not upselling to someone who only asked the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import analytics, backlog
from salescontrol.chunks import ChunkStatus

# What a dialogue list can be sorted by: label -> SQL expression (a whitelist).
SORTS = {
    "started_at": "d.started_at",
    "quality": "a.quality_score",
    "duration": "(d.end_ms - d.start_ms)",
    "point": "p.name",
}
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class Reach:
    """The points a user may see: every point (None, the owner) or the given ones."""

    points: frozenset[UUID] | None

    def where(self, column: str, params: dict[str, Any]) -> str:
        """An SQL condition on the point id `column`; adds its parameter to `params`."""
        if self.points is None:
            return "TRUE"
        params["reach"] = sorted(str(p) for p in self.points)
        return f"{column} = ANY(CAST(:reach AS uuid[]))"


EVERY_POINT = Reach(None)


@dataclass(frozen=True)
class Scope:
    """Whose reach, a period (inclusive local days) and optionally one point or register."""

    reach: Reach
    date_from: date
    date_to: date
    tz: str = "UTC"
    point_id: UUID | None = None
    register_id: UUID | None = None

    @property
    def period(self) -> analytics.Period:
        """The same days, place and reach as the core's analytics take them."""
        return analytics.Period(
            self.date_from,
            self.date_to,
            self.tz,
            self.reach.points,
            self.point_id,
            self.register_id,
        )

    def where(self) -> tuple[str, dict[str, Any]]:
        """SQL conditions on `d` (dialogues) and their parameters."""
        return self.period.where()


@dataclass(frozen=True)
class Kpis:
    dialogues: int
    analysed: int  # analysed sales dialogues
    attempted: int
    accepted: int
    mean_quality: float | None

    @property
    def attempt_rate(self) -> float | None:
        return self.attempted / self.analysed if self.analysed else None

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.attempted if self.attempted else None


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]


def _rates(figures: analytics.Figures) -> dict[str, Any]:
    """The figures under the names the pages and their tables use."""
    return {
        "dialogues": figures.dialogues,
        "analysed": figures.sales_dialogues,
        "attempted": figures.upsell_attempted,
        "accepted": figures.upsell_accepted,
        "mean_quality": figures.mean_quality,
        "attempt_rate": figures.upsell_rate,
        "acceptance_rate": figures.acceptance_rate,
    }


@dataclass(frozen=True)
class Summary:
    kpis: Kpis
    trend: list[dict[str, Any]]  # per local day: day, the aggregates, the rates
    ranking: list[dict[str, Any]]  # per register: names, the aggregates, the rates
    sellers: list[dict[str, Any]]  # per seller (as merged): name, point, the same


def summary(conn: Connection, scope: Scope, daily: analytics.Daily | None = None) -> Summary:
    """KPIs, daily trend and ranking of the scope: `analytics.daily` added up (one scan;
    pass `daily` when the page has it already)."""
    if daily is None:
        daily = analytics.daily(conn, scope.period)
    total = analytics.total(daily.places)
    kpis = Kpis(
        total.dialogues,
        total.sales_dialogues,
        total.upsell_attempted,
        total.upsell_accepted,
        total.mean_quality,
    )
    by_day = analytics.rollup(daily.places, lambda r: r.day)
    trend = [{"day": day, **_rates(f)} for day, f in sorted(by_day.items())]
    names = {(r.point_id, r.register_id): (r.point_name, r.register_name) for r in daily.places}
    by_place = analytics.rollup(daily.places, lambda r: (r.point_id, r.register_id))
    places = [
        {
            "point_id": point,
            "register_id": register,
            "point_name": names[point, register][0],
            "register_name": names[point, register][1],
            **_rates(f),
        }
        for (point, register), f in by_place.items()
    ]
    places.sort(key=lambda r: (*_best_first(r), r["point_name"] or "", r["register_name"] or ""))
    seller_names = {r.seller_id: (r.seller_name, r.point_name) for r in daily.sellers}
    by_seller = analytics.rollup(daily.sellers, lambda r: r.seller_id)
    sellers = [
        {
            "seller_id": seller,
            "seller": seller_names[seller][0],
            "point_name": seller_names[seller][1],
            **_rates(f),
        }
        for seller, f in by_seller.items()
    ]
    sellers.sort(key=lambda r: (*_best_first(r), r["seller"] or ""))
    return Summary(kpis, trend, places, sellers)


def _best_first(row: dict[str, Any]) -> tuple[float, float]:
    """The rankings' order: best attempt rate, then best quality, first."""
    return -(row["attempt_rate"] or -1), -(row["mean_quality"] or -1)


def overview(conn: Connection, scope: Scope) -> Kpis:
    """Dialogues, attempts, acceptances and mean quality in the scope."""
    return summary(conn, scope).kpis


def daily_trend(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """One row per local day of the scope that had dialogues, with the KPIs and rates."""
    return summary(conn, scope).trend


def ranking(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Points and registers compared: best attempt rate, then quality, first."""
    return summary(conn, scope).ranking


def top_products(conn: Connection, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """The products sellers offered most often, with how often each was accepted."""
    where, params = scope.where()
    sql = f"""
        SELECT lower(btrim(o ->> 'product')) AS product, count(*) AS offered,
               count(*) FILTER (WHERE o ->> 'accepted' = 'true') AS accepted
        FROM dialogues d
        JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE jsonb_typeof(a.offers) WHEN 'array' THEN a.offers ELSE '[]'::jsonb END
        ) AS o
        WHERE {where} AND coalesce(btrim(o ->> 'product'), '') <> ''
        GROUP BY 1 ORDER BY offered DESC, product LIMIT :limit
    """
    return _rows(conn, sql, {**params, "limit": limit})


def places(conn: Connection, reach: Reach) -> list[dict[str, Any]]:
    """Every point and register within reach, for the filters."""
    params: dict[str, Any] = {}
    sql = f"""
        SELECT p.point_id, p.name AS point_name, r.register_id, r.name AS register_name
        FROM registers r JOIN points p ON p.point_id = r.point_id
        WHERE {reach.where("p.point_id", params)}
        ORDER BY p.name NULLS LAST, r.name NULLS LAST
    """
    return _rows(conn, sql, params)


@dataclass(frozen=True)
class DialogueFilter:
    """The dialogues table's filters, sort and page."""

    scope: Scope
    attempted: bool | None = None
    accepted: bool | None = None
    quality_min: int | None = None
    quality_max: int | None = None
    text: str = ""
    sort: str = "started_at"
    descending: bool = True
    page: int = 1
    page_size: int = 25


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _dialogue_where(f: DialogueFilter) -> tuple[str, dict[str, Any]]:
    where, params = f.scope.where()
    parts = [where]
    # Dialogues not analysed yet match neither "yes" nor "no"; "accepted" is asked of
    # attempts only (a customer cannot decline what was never offered).
    if f.attempted is not None:
        parts.append("a.attempted = :attempted")
        params["attempted"] = f.attempted
    if f.accepted is not None:
        parts.append("a.attempted AND coalesce(a.accepted, false) = :accepted")
        params["accepted"] = f.accepted
    if f.quality_min is not None:
        parts.append("a.quality_score >= :qmin")
        params["qmin"] = f.quality_min
    if f.quality_max is not None:
        parts.append("a.quality_score <= :qmax")
        params["qmax"] = f.quality_max
    # Postgres text cannot hold NUL, so no transcript contains one: drop it from the
    # search rather than fail the page (the fuzz of test_dashboard_queries found it).
    text = f.text.replace("\x00", "").strip()
    if text:
        # Uses the pg_trgm index of 005_dashboard.sql.
        parts.append("t.text ILIKE :pattern")
        params["pattern"] = _like(text)
    return " AND ".join(parts), params


_DIALOGUE_JOINS = """
    FROM dialogues d
    LEFT JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id
    LEFT JOIN dialogue_transcripts t ON t.dialogue_id = d.dialogue_id
    JOIN points p ON p.point_id = d.point_id
    JOIN registers r ON r.register_id = d.register_id
"""
_DIALOGUE_COLUMNS = """
    d.dialogue_id, d.started_at, p.name AS point_name, r.name AS register_name,
    CAST(round((d.end_ms - d.start_ms) / 1000.0) AS integer) AS duration_sec,
    d.asr_status, d.analysis_status, a.attempted, a.accepted, a.quality_score, a.needs_review,
    left(coalesce(a.summary, t.text, ''), 140) AS summary
"""


def _order(f: DialogueFilter) -> str:
    order = SORTS.get(f.sort, SORTS["started_at"])
    return f"{order} {'DESC' if f.descending else 'ASC'} NULLS LAST, d.dialogue_id"


def dialogues(conn: Connection, f: DialogueFilter) -> tuple[list[dict[str, Any]], int]:
    """One page of dialogues matching the filter, and how many match in all."""
    size = max(1, min(f.page_size, MAX_PAGE_SIZE))
    return _dialogue_rows(conn, f, size, (max(1, f.page) - 1) * size)


def dialogue_rows(
    conn: Connection, f: DialogueFilter, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The first `limit` dialogues matching the filter in its order (every page, for a
    download), and how many match in all."""
    return _dialogue_rows(conn, f, limit, 0)


def _dialogue_rows(
    conn: Connection, f: DialogueFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    where, params = _dialogue_where(f)
    total = conn.execute(
        sa.text(f"SELECT count(*) {_DIALOGUE_JOINS} WHERE {where}"), params
    ).scalar_one()
    # The rows' ids first, then their columns: the planner drops the joins the ids do not
    # need (a transcript is read for the rows shown, not for every dialogue that matches).
    sql = f"""
        SELECT {_DIALOGUE_COLUMNS} {_DIALOGUE_JOINS}
        WHERE d.dialogue_id IN (
            SELECT d.dialogue_id {_DIALOGUE_JOINS} WHERE {where}
            ORDER BY {_order(f)} LIMIT :limit OFFSET :offset
        )
        ORDER BY {_order(f)}
    """
    params.update(limit=limit, offset=offset)
    return _rows(conn, sql, params), total


def dialogue(conn: Connection, dialogue_id: UUID, reach: Reach) -> dict[str, Any] | None:
    """One dialogue with its transcript segments and analysis, or None (also when it is
    at a point out of reach: the same answer as for a dialogue that does not exist)."""
    params: dict[str, Any] = {"id": dialogue_id}
    sql = f"""
        SELECT d.dialogue_id, d.device_id, d.started_at, d.ended_at, d.speech_sec,
               CAST((d.end_ms - d.start_ms) / 1000.0 AS float) AS duration_sec, d.audio_object,
               d.asr_status, d.asr_error, d.analysis_status, d.analysis_error,
               d.point_id, p.name AS point_name, r.name AS register_name,
               t.text, t.segments, t.model AS asr_model, t.tier AS asr_tier,
               a.dialogue_id IS NOT NULL AS analysed, a.is_sales_dialogue, a.attempted,
               a.accepted, a.quality_score, a.offers, a.summary, a.recommendation,
               a.analyzer, a.model, a.prompt_version, a.needs_review, a.review_reason
        FROM dialogues d
        JOIN points p ON p.point_id = d.point_id
        JOIN registers r ON r.register_id = d.register_id
        LEFT JOIN dialogue_transcripts t ON t.dialogue_id = d.dialogue_id
        LEFT JOIN dialogue_upsell_analysis a ON a.dialogue_id = d.dialogue_id
        WHERE d.dialogue_id = :id AND {reach.where("d.point_id", params)}
    """
    row = conn.execute(sa.text(sql), params).first()
    return dict(row._mapping) if row else None


@dataclass(frozen=True)
class PipelineState:
    chunks: list[dict[str, Any]]  # status, count, last_created
    dialogues: list[dict[str, Any]]  # asr_status, analysis_status, count
    stuck: list[dict[str, Any]]  # stage, id, status, updated_at (salescontrol.backlog)
    stuck_total: int
    rejected: list[dict[str, Any]]  # chunk_id, device, started_at, error
    given_up: list[dict[str, Any]]  # stage, id, attempts, error (MAX_ATTEMPTS used)


# Which rows of a stage's table lie within reach (the stage's key column is `id`).
_REACHED = {
    "audio_chunks": "SELECT c.chunk_id FROM audio_chunks c "
    "JOIN devices v ON v.device_id = c.device_id WHERE {points}",
    "dialogues": "SELECT d.dialogue_id FROM dialogues d WHERE {points}",
}


def _stuck(
    conn: Connection, cutoff: datetime, limit: int, reach: Reach
) -> tuple[list[dict[str, Any]], int]:
    """backlog.stuck() restricted to the rows within reach."""
    if reach.points is None:
        return backlog.stuck(conn, cutoff, limit)
    params: dict[str, Any] = {"cutoff": cutoff, "limit": limit}
    parts = []
    for stage in backlog.TIMED:
        within = _within(stage, reach, params)
        parts.append(f"SELECT * FROM ({backlog.stuck_query(stage)}) AS q WHERE q.id IN ({within})")
    rows = _rows(
        conn,
        f"SELECT s.*, count(*) OVER () AS total FROM ({' UNION ALL '.join(parts)}) AS s "
        "ORDER BY updated_at LIMIT :limit",
        params,
    )
    return rows, (rows[0]["total"] if rows else 0)


def _within(stage: backlog.Stage, reach: Reach, params: dict[str, Any]) -> str:
    """SQL: the stage's rows (their key) at points within reach."""
    column = "v.point_id" if stage.table == "audio_chunks" else "d.point_id"
    return _REACHED[stage.table].format(points=reach.where(column, params))


def pipeline(
    conn: Connection,
    stuck_timeout_sec: float,
    reach: Reach,
    limit: int = 50,
    max_attempts: int = 5,
) -> PipelineState:
    """Counts by status, work stuck past the timeout (with attempts and last error), the
    latest rejected chunks and the work given up after `max_attempts`, of the points
    within reach."""
    cutoff = datetime.now(UTC) - timedelta(seconds=stuck_timeout_sec)
    stuck, stuck_total = _stuck(conn, cutoff, limit, reach)
    chunk_params: dict[str, Any] = {"rejected": ChunkStatus.REJECTED, "limit": limit}
    chunk_reach = reach.where("v.point_id", chunk_params)
    dialogue_params: dict[str, Any] = {}
    dialogue_reach = reach.where("point_id", dialogue_params)
    return PipelineState(
        chunks=_rows(
            conn,
            "SELECT c.status, count(*) AS count, max(c.created_at) AS last_created "
            "FROM audio_chunks c JOIN devices v ON v.device_id = c.device_id "
            f"WHERE {chunk_reach} GROUP BY c.status ORDER BY c.status",
            chunk_params,
        ),
        dialogues=_rows(
            conn,
            "SELECT asr_status, analysis_status, count(*) AS count FROM dialogues "
            f"WHERE {dialogue_reach} GROUP BY asr_status, analysis_status ORDER BY 1, 2",
            dialogue_params,
        ),
        stuck=stuck,
        stuck_total=stuck_total,
        rejected=_rows(
            conn,
            "SELECT c.chunk_id, c.device_id, c.started_at, c.error, c.updated_at "
            "FROM audio_chunks c JOIN devices v ON v.device_id = c.device_id "
            f"WHERE c.status = :rejected AND {chunk_reach} "
            "ORDER BY c.updated_at DESC LIMIT :limit",
            chunk_params,
        ),
        given_up=_given_up(conn, max_attempts, limit, reach),
    )


def devices(conn: Connection, reach: Reach) -> list[dict[str, Any]]:
    """The devices at points within reach, with their place and last health report."""
    params: dict[str, Any] = {}
    sql = f"""
        SELECT d.device_id, d.point_id, d.register_id, d.is_enabled, d.last_seen_at,
               d.last_health, d.last_health_at, p.name AS point_name, r.name AS register_name
        FROM devices d
        JOIN points p ON p.point_id = d.point_id
        JOIN registers r ON r.register_id = d.register_id
        WHERE {reach.where("d.point_id", params)}
        ORDER BY p.name, r.name, d.created_at
    """
    return _rows(conn, sql, params)


def device_point(conn: Connection, device_id: UUID, reach: Reach) -> UUID | None:
    """The point of a device within reach, or None (unknown, or out of reach)."""
    params: dict[str, Any] = {"d": device_id}
    sql = f"SELECT point_id FROM devices WHERE device_id = :d AND {reach.where('point_id', params)}"
    return conn.execute(sa.text(sql), params).scalar_one_or_none()


def _given_up(
    conn: Connection, max_attempts: int, limit: int, reach: Reach
) -> list[dict[str, Any]]:
    """The latest rows each timed stage gave up on (salescontrol.backlog's give-up), of
    the points within reach."""
    params: dict[str, Any] = {"max": max_attempts, "limit": limit}
    union = " UNION ALL ".join(
        f"SELECT '{s.name}' AS stage, {s.key} AS id, {s.attempts} AS attempts, "
        f"{s.error} AS error, updated_at FROM {s.table} "
        f"WHERE {s.status} = '{s.gives_up}' AND {s.attempts} >= :max "
        f"AND {s.key} IN ({_within(s, reach, params)})"
        for s in backlog.TIMED
    )
    sql = f"SELECT * FROM ({union}) AS g ORDER BY updated_at DESC LIMIT :limit"
    return _rows(conn, sql, params)


def latest_dialogue_time(conn: Connection, reach: Reach) -> datetime | None:
    """When the newest dialogue within reach started (the default period ends there)."""
    params: dict[str, Any] = {}
    sql = f"SELECT max(started_at) FROM dialogues d WHERE {reach.where('d.point_id', params)}"
    return conn.execute(sa.text(sql), params).scalar_one()
