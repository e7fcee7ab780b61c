"""Sellers, roles and background speech for the dashboard: the queries and the owner's
two actions on sellers (rename, merge). Sellers are learned by the ASR worker
(asr_service/roles.py); a seller is shown once its voice has a number."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import strings as S
from dashboard.queries import Reach, _rows
from salescontrol import speakers, voices
from salescontrol.errors import BadInput

MAX_NAME = 80
# A dialogue counts for the seller it was merged into.
_RESOLVED = "coalesce(s.merged_into, s.seller_id)"


def seller_name(name: str | None, number: int | None) -> str:
    return name or S.SELLER_DEFAULT.format(number=number)


def sellers(conn: Connection, reach: Reach) -> list[dict[str, Any]]:
    """Every seller not merged into another at a point within reach: point, name,
    dialogues heard."""
    params: dict[str, Any] = {}
    rows = _rows(
        conn,
        f"""
        SELECT s.seller_id, s.point_id, p.name AS point_name, s.number, s.name,
               (SELECT count(*) FROM dialogues d JOIN sellers m ON m.seller_id = d.seller_id
                WHERE coalesce(m.merged_into, m.seller_id) = s.seller_id) AS dialogues
        FROM sellers s LEFT JOIN points p ON p.point_id = s.point_id
        WHERE s.number IS NOT NULL AND s.merged_into IS NULL
          AND {reach.where("s.point_id", params)}
        ORDER BY p.name, s.number
        """,
        params,
    )
    return [{**r, "seller": seller_name(r["name"], r["number"])} for r in rows]


def rename(conn: Connection, seller_id: UUID, name: str, reach: Reach) -> None:
    """Give a seller of a point within reach a name (an empty one brings back
    "Продавец N")."""
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise BadInput(S.SELLER_NAME_TOO_LONG.format(limit=MAX_NAME), "name")
    params: dict[str, Any] = {"n": name or None, "s": seller_id}
    mine = reach.where("point_id", params)
    done = conn.execute(
        sa.text(
            f"UPDATE sellers SET name = :n, updated_at = now() WHERE seller_id = :s AND {mine}"
        ),
        params,
    )
    if done.rowcount != 1:
        raise BadInput(S.SELLER_UNKNOWN, "seller_id")


def merge(conn: Connection, source: UUID, target: UUID, reach: Reach) -> None:
    """Make `source` and everything merged into it part of `target` (same point, within
    reach): its dialogues count for the target, and its voice joins the target's."""
    params: dict[str, Any] = {"a": source, "b": target}
    mine = reach.where("point_id", params)
    rows = {
        r.seller_id: r
        for r in conn.execute(
            sa.text(
                "SELECT seller_id, point_id, voice, dialogues, merged_into FROM sellers "
                f"WHERE seller_id IN (:a, :b) AND {mine} FOR UPDATE"
            ),
            params,
        )
    }
    a, b = rows.get(source), rows.get(target)
    if source == target or a is None or b is None or a.merged_into or b.merged_into:
        raise BadInput(S.SELLER_UNKNOWN, "seller_id")
    if a.point_id != b.point_id:
        raise BadInput(S.SELLER_OTHER_POINT, "seller_id")
    voice = speakers.unit(
        voices.unpack(a.voice) * a.dialogues + voices.unpack(b.voice) * b.dialogues
    )
    conn.execute(
        sa.text(
            "UPDATE sellers SET merged_into = :t, updated_at = now() "
            "WHERE seller_id = :s OR merged_into = :s"
        ),
        {"s": source, "t": target},
    )
    conn.execute(
        sa.text(
            "UPDATE sellers SET voice = :v, dialogues = dialogues + :n, updated_at = now() "
            "WHERE seller_id = :t"
        ),
        {"v": voices.pack(voice), "n": a.dialogues, "t": target},
    )


def background(conn: Connection, reach: Reach) -> list[dict[str, Any]]:
    """Background speech (radio, TV) dropped before ASR, per register within reach:
    stretches, seconds, the latest. A segment that sounds like a loudspeaker is dropped
    by vad; a stretch with nobody at the microphone, by assembly."""
    params: dict[str, Any] = {}
    return _rows(
        conn,
        f"""
        SELECT p.name AS point_name, r.name AS register_name, count(*) AS count,
               CAST(round(sum(b.end_ms - b.start_ms) / 1000.0, 1) AS float) AS seconds,
               to_timestamp(max(b.start_ms) / 1000.0) AS last_created
        FROM (
            SELECT device_id, start_ms, end_ms FROM background_speech
            UNION ALL  -- whole stretches with nobody at the microphone
            SELECT device_id, start_ms, end_ms FROM assembly_spans WHERE kind = 'background'
        ) b
        JOIN devices v ON v.device_id = b.device_id
        LEFT JOIN points p ON p.point_id = v.point_id
        LEFT JOIN registers r ON r.register_id = v.register_id
        WHERE {reach.where("v.point_id", params)}
        GROUP BY p.name, r.name ORDER BY p.name, r.name
        """,
        params,
    )
