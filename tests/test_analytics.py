"""The daily figures (salescontrol/analytics.py) against a real Postgres: one scan, rows
that add up exactly, local days, reach, and sellers once the schema has them."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from dashboard_data import add_device, add_dialogue

from devkit.paths import FUNCTIONS_DIR
from salescontrol import analytics

MSK = "Europe/Moscow"
DAY = date(2026, 11, 20)


def _at(hour: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=3)


def test_figures_add_up_and_rates_come_from_the_sums() -> None:
    a = analytics.Figures(dialogues=3, sales_dialogues=2, upsell_attempted=1, quality_sum=9)
    b = analytics.Figures(dialogues=1, sales_dialogues=2, upsell_attempted=2, upsell_accepted=1)
    both = a + b
    assert (both.dialogues, both.sales_dialogues, both.upsell_attempted) == (4, 4, 3)
    assert both.upsell_rate == 0.75 and both.acceptance_rate == 1 / 3
    empty = analytics.Figures()
    assert (empty.upsell_rate, empty.acceptance_rate, empty.mean_quality) == (None, None, None)
    assert analytics.total([]) == empty


def _shop(conn) -> dict:
    a = add_device(conn, "Точка А", "Касса 1")
    b = add_device(conn, "Точка Б", "Касса 1")
    ids = {
        "a_yes": add_dialogue(conn, a, _at(10), analysis={"attempted": True, "accepted": True,
                                                           "quality_score": 8}),
        "a_no": add_dialogue(conn, a, _at(11), analysis={"attempted": False, "quality_score": 2}),
        "a_late": add_dialogue(conn, a, _at(23, DAY), analysis={"attempted": True}),
        "b_yes": add_dialogue(conn, b, _at(12), analysis={"attempted": True, "accepted": False,
                                                           "quality_score": 5}),
        "b_next": add_dialogue(conn, b, _at(0, DAY + timedelta(days=1))),
    }  # fmt: skip
    return {"a": a, "b": b, "ids": ids}


def test_rows_per_day_and_register_add_up_to_the_totals(migrated_db: sa.Engine) -> None:
    with migrated_db.begin() as conn:
        shop = _shop(conn)
        week = analytics.daily(conn, analytics.Period(DAY, DAY + timedelta(days=1), MSK))
        point_a = analytics.daily(
            conn, analytics.Period(DAY, DAY, MSK, points=frozenset({shop["a"].point_id}))
        )
        assert not analytics.has_sellers(conn)
    days = analytics.rollup(week.places, lambda r: r.day)
    # 23:00 in Moscow is still DAY (20:00 UTC); 00:00 Moscow is the next day (21:00 UTC)
    assert {d: f.dialogues for d, f in days.items()} == {DAY: 4, DAY + timedelta(days=1): 1}
    total = analytics.total(week.places)
    assert (total.dialogues, total.sales_dialogues, total.upsell_attempted) == (5, 4, 3)
    assert total.mean_quality == (8 + 2 + 5) / 3
    assert analytics.total(point_a.places).dialogues == 3  # another point's are out of reach
    assert {r.point_name for r in point_a.places} == {"Точка А"}
    assert week.sellers == [] and not week.has_sellers


def test_sellers_appear_once_the_schema_has_them(migrated_db: sa.Engine) -> None:
    """What the speaker work (issue 20) is to add: a sellers table, dialogues.seller_id.
    Made here by hand; the analytics API and the digest pick it up as they are."""
    with migrated_db.begin() as conn:
        shop = _shop(conn)
        conn.execute(sa.text("CREATE TABLE sellers (seller_id uuid PRIMARY KEY, name text)"))
        conn.execute(sa.text("ALTER TABLE dialogues ADD COLUMN seller_id uuid"))
        olga, ivan = uuid.uuid4(), uuid.uuid4()
        conn.execute(
            sa.text("INSERT INTO sellers VALUES (:o, 'Ольга'), (:i, 'Иван')"),
            {"o": olga, "i": ivan},
        )
        for key, seller in (("a_yes", olga), ("a_no", ivan), ("b_yes", olga)):
            conn.execute(
                sa.text("UPDATE dialogues SET seller_id = :s WHERE dialogue_id = :d"),
                {"s": seller, "d": shop["ids"][key]},
            )
        assert analytics.has_sellers(conn)
        day = analytics.daily(conn, analytics.Period(DAY, DAY, MSK))
        sys.path.insert(0, str(FUNCTIONS_DIR / "digest"))
        try:
            import digest_content

            digest = digest_content.build(conn, "anna", None, DAY, MSK)
        finally:
            sys.path.remove(str(FUNCTIONS_DIR / "digest"))
    by_seller = analytics.rollup(day.sellers, lambda r: r.seller_name)
    assert {name: f.upsell_attempted for name, f in by_seller.items()} == {"Ольга": 2, "Иван": 0}
    assert by_seller["Ольга"].upsell_accepted == 1 and day.has_sellers
    # dialogues without a seller are in the places' rows, not in any seller's
    assert sum(f.dialogues for f in by_seller.values()) == 3
    assert analytics.total(day.places).dialogues == 4
    assert digest.best_seller is not None and digest.best_seller.name == "Ольга"
    assert digest.worst_seller is not None and digest.worst_seller.name == "Иван"
