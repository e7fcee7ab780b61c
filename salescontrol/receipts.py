"""Receipts linked to dialogues (table `receipts`; the ingest API brings them in) and
the analysis's offers checked against what was bought (`receipt_match`: the pure rules).

Matching is recomputed from what is stored by `rematch()`, for the whole components
around a change, under the register's advisory lock, and every trigger runs it: a receipt
stored, a dialogue closed (assembly), a ККТ set on a register (`adopt`), the sweeper's
`repair()`. So the links end the same whatever the order of arrival. Each dialogue whose
link changed, and each new analysis (`analysed()`), gets its receipt check again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salescontrol import receipt_match
from salescontrol.config import settings
from salescontrol.db import advisory_key, transaction

REPAIR_DAYS = 7  # how far back the sweeper looks for receipts left unlinked


def window() -> receipt_match.Window:
    s = settings()
    return receipt_match.Window(
        round(s.receipt_match_before_sec * 1000), round(s.receipt_match_after_sec * 1000)
    )


def adopt(conn: Connection, register_id: UUID) -> None:
    """Give the register the unassigned receipts of its (newly set) ККТ, and match them."""
    times = conn.execute(
        sa.text(
            "UPDATE receipts r SET register_id = g.register_id, updated_at = now() "
            "FROM registers g WHERE g.register_id = :g AND r.register_id IS NULL "
            "AND r.kkt_reg_id = g.kkt_reg_id AND r.point_id = g.point_id RETURNING r.printed_at"
        ),
        {"g": register_id},
    )
    at = [epoch_ms(t) for t in times.scalars()]
    if at:
        rematch(conn, register_id, min(at), max(at))


def epoch_ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _lock(conn: Connection, register_id: UUID) -> None:
    key = {"k": advisory_key(f"receipts:{register_id}")}
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), key)


def rematch(conn: Connection, register_id: UUID, lo_ms: int, hi_ms: int) -> int:
    """Match again the register's components with an item in [lo_ms, hi_ms] (whole
    components, however far they reach); the number of receipts whose link changed."""
    _lock(conn, register_id)
    w = window()
    reach = margin = w.reach_ms
    while True:
        margin *= 2  # doubled on each pass: a day-long chain of sales costs log(n) reads
        low, high = lo_ms - margin, hi_ms + margin
        rows = conn.execute(
            sa.text(
                "SELECT receipt_id, printed_at, dialogue_id FROM receipts "
                "WHERE register_id = :g AND printed_at BETWEEN :lo AND :hi"
            ),
            {"g": register_id, "lo": at_ms(low), "hi": at_ms(high)},
        ).all()
        ends = conn.execute(
            sa.text(
                "SELECT dialogue_id, end_ms FROM dialogues "
                "WHERE register_id = :g AND end_ms BETWEEN :lo AND :hi"
            ),
            {"g": register_id, "lo": low, "hi": high},
        ).all()
        printed = {r.receipt_id: epoch_ms(r.printed_at) for r in rows}
        ended = {d.dialogue_id: d.end_ms for d in ends}
        receipts, dialogues = receipt_match.touched(printed, ended, w, lo_ms, hi_ms)
        times = [printed[r] for r in receipts] + [ended[d] for d in dialogues]
        lo_ms, hi_ms = min([lo_ms, *times]), max([hi_ms, *times])
        if lo_ms - reach >= low and hi_ms + reach <= high:
            break  # nothing outside what was read can reach the components
    links = receipt_match.match(
        {r: printed[r] for r in receipts}, {d: ended[d] for d in dialogues}, w
    )
    current = {r.receipt_id: r.dialogue_id for r in rows}
    changed = {r: d for r, d in links.items() if current[r] != d}
    if changed:
        # Unlink first: the one-to-one UNIQUE index must hold after each statement.
        conn.execute(
            sa.text(
                "UPDATE receipts SET dialogue_id = NULL, updated_at = now() "
                "WHERE receipt_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": list(changed)},
        )
        relinked = [{"r": r, "d": d} for r, d in changed.items() if d is not None]
        if relinked:
            conn.execute(
                sa.text("UPDATE receipts SET dialogue_id = :d WHERE receipt_id = :r"), relinked
            )
        recheck(conn, ({current[r] for r in changed} | set(changed.values())) - {None})
    return len(changed)


def at_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def dialogue_added(conn: Connection, dialogue_id: UUID) -> None:
    """A dialogue was closed: match its register's receipts around its end."""
    row = conn.execute(
        sa.text("SELECT register_id, end_ms FROM dialogues WHERE dialogue_id = :d"),
        {"d": dialogue_id},
    ).first()
    if row is not None:
        rematch(conn, row.register_id, row.end_ms, row.end_ms)


def repair(limit: int = 200) -> int:
    """The sweeper's safety net: match again around receipts of the last REPAIR_DAYS left
    without a dialogue that a candidate would take (theirs was erased, say); there are
    none once every change has been matched (a stable matching has no such pair)."""
    w = window()
    at = "CAST(extract(epoch FROM {}.printed_at) * 1000 AS bigint)"
    cost = "CASE WHEN {0} >= d.end_ms THEN {0} - d.end_ms ELSE (d.end_ms - {0}) * :k END"
    mine, theirs = at.format("r"), cost.format(at.format("o"))
    with transaction() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT DISTINCT r.register_id, {mine} AS at FROM receipts r JOIN dialogues d "
                f"ON d.register_id = r.register_id AND d.end_ms BETWEEN {mine} - :after AND "
                f"{mine} + :before LEFT JOIN receipts o ON o.dialogue_id = d.dialogue_id "
                "WHERE r.dialogue_id IS NULL AND r.register_id IS NOT NULL AND r.printed_at > "
                f"now() - make_interval(days => :days) AND (o.receipt_id IS NULL OR {theirs} > "
                f"{cost.format(mine)}) LIMIT :n"
            ),
            {"after": w.after_ms, "before": w.before_ms, "k": receipt_match.BEFORE_WEIGHT}
            | {"days": REPAIR_DAYS, "n": limit},
        ).all()
    for row in rows:
        with transaction() as conn:
            rematch(conn, row.register_id, row.at, row.at)
    return len(rows)


def hold(conn: Connection, dialogue_id: UUID) -> None:
    """Take the lock rematch() writes the dialogue's link under; an analysis takes it
    before its row, so a rematch never waits for that row while holding the lock."""
    register = conn.execute(
        sa.text("SELECT register_id FROM dialogues WHERE dialogue_id = :d"), {"d": dialogue_id}
    ).scalar_one()
    _lock(conn, register)


def analysed(conn: Connection, dialogue_id: UUID, terms: dict[str, Any]) -> None:
    """A new analysis: keep its lemmas (`lemmas.check_terms`) and check its offers."""
    hold(conn, dialogue_id)  # reentrant: a no-op when the caller holds it already
    conn.execute(
        sa.text(
            "UPDATE dialogue_upsell_analysis SET check_terms = CAST(:t AS jsonb) "
            "WHERE dialogue_id = :d"
        ),
        {"t": json.dumps(terms, ensure_ascii=False), "d": dialogue_id},
    )
    recheck(conn, {dialogue_id})


def recheck(conn: Connection, dialogue_ids: set[UUID]) -> None:
    """Store the receipt check of each analysed dialogue of `dialogue_ids`."""
    if not dialogue_ids:
        return
    rows = conn.execute(
        sa.text(
            "SELECT a.dialogue_id, a.offers, a.check_terms, r.items, r.item_lemmas "
            "FROM dialogue_upsell_analysis a LEFT JOIN receipts r USING (dialogue_id) "
            "WHERE a.dialogue_id IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True)),
        {"ids": sorted(dialogue_ids)},
    ).all()
    for row in rows:
        offers, terms = row.offers or [], row.check_terms
        if not isinstance(terms, dict) or len(terms["offers"]) != len(offers):
            continue  # analysed before the check: none until it is analysed again
        receipt = {"items": row.items, "item_lemmas": row.item_lemmas} if row.items else None
        results, contradicted = receipt_match.check(offers, terms, receipt)
        conn.execute(
            sa.text(
                "UPDATE dialogue_upsell_analysis SET receipt_check = CAST(:c AS jsonb), "
                "receipt_contradiction = :x, updated_at = now() WHERE dialogue_id = :d"
            ),
            {"c": json.dumps(results, ensure_ascii=False), "x": contradicted, "d": row.dialogue_id},
        )
