"""Canonical dumps of what the pipeline made, to compare two runs of the same input.

A run with faults must end with the same dialogues, transcripts and analyses as a
fault-free run. Rows are keyed by dialogue id (uuid5 of device and start, so identical
for identical input) and carry every column except those that record when, how fast or
in how many attempts the processing went; floats are rounded so that equal work
compares equal. A seller's id is a uuid4 made when its voice is first learned, so two
runs name the same seller differently: `seller_id` is compared as the grouping it makes
(each seller stands for the first of its dialogues), which is what a run must reproduce.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

# Per table: the columns that say when, how long or in how many tries processing went,
# not what it made (a fault or a redelivery under load is one more attempt, same result).
IGNORED = {
    "dialogues": {"created_at", "updated_at", "asr_attempts", "analysis_attempts"},
    "dialogue_transcripts": {"created_at", "updated_at", "processing_sec"},
    "dialogue_upsell_analysis": {"created_at", "updated_at"},
}
DIGITS = 3


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # uuid, timestamp, Decimal


Dump = dict[str, dict[str, dict[str, Any]]]  # table -> dialogue id -> column -> value


def _sellers_as_groups(rows: dict[str, dict[str, Any]]) -> None:
    """Replace each dialogue's seller_id by the first dialogue id of that seller."""
    first: dict[Any, str] = {}
    for key in sorted(rows):
        seller = rows[key].get("seller_id")
        if seller is not None:
            rows[key]["seller_id"] = first.setdefault(seller, f"seller of {key}")


def dump(engine: sa.Engine) -> Dump:
    """Every row of the three result tables, canonicalised."""
    out: Dump = {}
    with engine.connect() as conn:
        for table, ignored in IGNORED.items():
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).mappings().all()
            out[table] = {
                str(row["dialogue_id"]): {
                    k: _canonical(v) for k, v in row.items() if k not in ignored
                }
                for row in rows
            }
    _sellers_as_groups(out["dialogues"])
    return out


def differences(expected: Dump, actual: Dump, limit: int = 10) -> list[str]:
    """What differs between two dumps, one line each (at most `limit`)."""
    found: list[str] = []
    for table in IGNORED:
        want, got = expected.get(table, {}), actual.get(table, {})
        for key in sorted(want.keys() - got.keys()):
            found.append(f"{table} {key}: missing")
        for key in sorted(got.keys() - want.keys()):
            found.append(f"{table} {key}: extra {json.dumps(got[key], ensure_ascii=False)[:200]}")
        for key in sorted(want.keys() & got.keys()):
            columns = [c for c in want[key] if want[key][c] != got[key].get(c)]
            for column in columns:
                found.append(
                    f"{table} {key}.{column}: {str(want[key][column])[:80]!r} "
                    f"!= {str(got[key].get(column))[:80]!r}"
                )
    return found[:limit] + ([f"... {len(found) - limit} more"] if len(found) > limit else [])


def size(d: Dump) -> dict[str, int]:
    return {table: len(rows) for table, rows in d.items()}
