"""The daily figures (salescontrol/analytics.py) against a real Postgres: one scan, rows
that add up exactly, local days, reach, and sellers as the owner merged them."""

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
    days = analytics.rollup(week.places, lambda r: r.day)
    # 23:00 in Moscow is still DAY (20:00 UTC); 00:00 Moscow is the next day (21:00 UTC)
    assert {d: f.dialogues for d, f in days.items()} == {DAY: 4, DAY + timedelta(days=1): 1}
    total = analytics.total(week.places)
    assert (total.dialogues, total.sales_dialogues, total.upsell_attempted) == (5, 4, 3)
    assert total.mean_quality == (8 + 2 + 5) / 3
    assert analytics.total(point_a.places).dialogues == 3  # another point's are out of reach
    assert {r.point_name for r in point_a.places} == {"Точка А"}
    assert week.sellers == []  # no seller was matched to any of these dialogues


def _seller(conn, point_id, number: int | None, name: str | None = None) -> uuid.UUID:
    """A seller voice of the point, as asr_service/roles.py records them."""
    seller_id = uuid.uuid4()
    conn.execute(
        sa.text(
            "INSERT INTO sellers (seller_id, point_id, number, name, voice) "
            "VALUES (:s, :p, :n, :name, '\\x00')"
        ),
        {"s": seller_id, "p": point_id, "n": number, "name": name},
    )
    return seller_id


def test_sellers_count_as_the_owner_named_and_merged_them(migrated_db: sa.Engine) -> None:
    """Dialogues count for their seller; a merged seller's for the one it went into, and a
    voice not yet numbered (not yet a seller) for nobody. The digest reads the same."""
    with migrated_db.begin() as conn:
        shop = _shop(conn)
        a, b = shop["a"].point_id, shop["b"].point_id
        olga, ivan = _seller(conn, a, 1, "Ольга"), _seller(conn, a, 2)
        olga_again, unsure = _seller(conn, a, 3), _seller(conn, a, None)
        boris = _seller(conn, b, 1, "Борис")
        conn.execute(
            sa.text("UPDATE sellers SET merged_into = :o WHERE seller_id = :s"),
            {"o": olga, "s": olga_again},
        )
        matched = {"a_yes": olga, "a_no": ivan, "a_late": olga_again, "b_yes": boris}
        matched |= {"b_next": unsure}
        for key, seller in matched.items():
            conn.execute(
                sa.text("UPDATE dialogues SET seller_id = :s WHERE dialogue_id = :d"),
                {"s": seller, "d": shop["ids"][key]},
            )
        day = analytics.daily(conn, analytics.Period(DAY, DAY + timedelta(days=1), MSK))
        sys.path.insert(0, str(FUNCTIONS_DIR / "digest"))
        try:
            import digest_content

            digest = digest_content.build(conn, "anna", None, DAY, MSK)
        finally:
            sys.path.remove(str(FUNCTIONS_DIR / "digest"))
    by_seller = analytics.rollup(day.sellers, lambda r: r.seller_name)
    assert {name: f.dialogues for name, f in by_seller.items()} == {
        "Ольга": 2,  # her own and the merged voice's
        "Продавец 2": 1,  # not named yet
        "Борис": 1,
    }
    assert by_seller["Ольга"].upsell_attempted == 2 and by_seller["Ольга"].upsell_accepted == 1
    assert {r.seller_id for r in day.sellers} == {olga, ivan, boris}
    # every dialogue is in the places' rows once, whether a seller was matched or not
    assert analytics.total(day.places).dialogues == 5
    assert digest.best_seller is not None and digest.best_seller.name == "Ольга"
    assert digest.worst_seller is not None and digest.worst_seller.name == "Продавец 2"
