"""The dashboard's receipt figures and pieces, against a real migrated Postgres."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from dashboard_data import add_device, add_dialogue

from dashboard import queries, users
from dashboard import receipts as data
from dashboard import strings as S
from dashboard.pages import receipts as pieces
from salescontrol import db, devices, lemmas, receipts

DAY = date(2026, 11, 20)
OWNER = users.User(1, "owner", users.Role.OWNER, frozenset())  # built in-process: no session
MSK = "Europe/Moscow"


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


def _sale(conn, dev, ends: datetime, offers: list[dict], said: str) -> uuid.UUID:
    analysis = {"attempted": bool(offers), "accepted": any(o["accepted"] for o in offers)}
    did = add_dialogue(
        conn, dev, ends - timedelta(seconds=30), 30.0, [], {**analysis, "offers": offers}
    )
    receipts.dialogue_added(conn, did)
    receipts.analysed(conn, did, lemmas.check_terms(said, [o["product"] for o in offers]))
    return did


KKT = "0000000000012345"


def _receipt(
    conn, dev, number: int, at: datetime, lines: list, operator: str, kkt: str = KKT
) -> None:
    """A receipt of the device's point stored as the ingest API stores it, then matched."""
    items = [{"name": n, "price": p, "quantity": 1.0, "sum": p} for n, p in lines]  # as stored
    register = conn.execute(
        sa.text("SELECT register_id FROM registers WHERE kkt_reg_id = :k AND point_id = :p"),
        {"k": kkt, "p": dev.point_id},
    ).scalar_one_or_none()
    conn.execute(
        sa.text(
            "INSERT INTO receipts (point_id, kkt_reg_id, fiscal_document_number, register_id, "
            "printed_at, total_sum, items, item_lemmas, operator) VALUES (:p, :k, :n, :r, :at, "
            ":t, CAST(:i AS jsonb), CAST(:l AS jsonb), :o)"
        ),
        {
            "p": dev.point_id,
            "k": kkt,
            "n": number,
            "r": register,
            "at": at,
            "t": sum(p for _, p in lines),
            "i": json.dumps(items, ensure_ascii=False),
            "l": json.dumps([lemmas.terms(n)["lemmas"] for n, _ in lines], ensure_ascii=False),
            "o": operator,
        },
    )
    if register:
        receipts.rematch(conn, register, receipts.epoch_ms(at), receipts.epoch_ms(at))


CROISSANT = {"product": "круассан", "quote": "Круассан к кофе?", "accepted": True}
CANDLES = {"product": "свечи", "quote": "Свечи к торту?", "accepted": True}


@pytest.fixture
def shop(migrated_db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """A bakery with two cashiers: an upsell confirmed, an upsell contradicted, a sale
    without an attempt, and a receipt of a ККТ no register has."""
    monkeypatch.setenv("DATABASE_URL", str(migrated_db.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("DASHBOARD_TIMEZONE", MSK)
    with migrated_db.begin() as conn:
        dev = add_device(conn, "Пекарня", "Касса 1")
        dev = devices.set_kkt(conn, dev.device_id, KKT)
        upsold = _sale(conn, dev, _at(9), [CROISSANT], "Капучино. Круассан к кофе? Да.")
        _receipt(
            conn,
            dev,
            1,
            _at(9) + timedelta(seconds=3),
            [("Капучино", 15000), ("Круассан <b>", 7000)],
            "Анна",
        )
        contradicted = _sale(conn, dev, _at(10), [CANDLES], "Медовый торт. Свечи к торту? Да.")
        _receipt(conn, dev, 2, _at(10) + timedelta(seconds=3), [("Торт медовый", 65000)], "Борис")
        _sale(conn, dev, _at(11), [], "Батон.")
        _receipt(conn, dev, 3, _at(11) + timedelta(seconds=3), [("Батон", 5000)], "Анна")
        _receipt(conn, dev, 9, _at(12), [("Вода", 6000)], "Анна", kkt="777")  # unknown ККТ
    yield {"upsold": upsold, "contradicted": contradicted, "engine": migrated_db}
    db.dispose_engines()  # the pages' pooled connections, before the database goes


def test_figures_count_receipts_average_checks_and_confirmed_upsell_revenue(shop) -> None:
    with shop["engine"].connect() as conn:
        f = data.figures(conn, queries.Scope(queries.EVERY_POINT, DAY, DAY, MSK))
    t = f.total
    assert (t["dialogues"], t["receipts"], t["receipts_matched"], t["unmatched"]) == (3, 3, 3, 0)
    assert t["check_with_upsell"] == (22000 + 65000) / 2 and t["check_without_upsell"] == 5000
    assert (t["upsell_revenue"], t["upsells_confirmed"], t["contradictions"]) == (7000, 1, 1)
    sellers = {s["operator"]: (s["receipts_matched"], s["upsell_revenue"]) for s in f.sellers}
    assert sellers == {"Анна": (2, 7000), "Борис": (1, 0)}
    assert [(p["register_name"], p["upsell_revenue"]) for p in f.places] == [("Касса 1", 7000)]


def test_unassigned_receipts_are_listed_for_the_pipeline_page(shop) -> None:
    with shop["engine"].connect() as conn:
        rows, total = data.unassigned(conn, queries.EVERY_POINT)
        elsewhere = data.unassigned(conn, queries.Reach(frozenset({uuid.uuid4()})))
    assert total == 1
    assert (rows[0]["fiscal_document_number"], rows[0]["kkt_reg_id"]) == (9, "777")
    assert rows[0]["point_name"] == "Пекарня" and rows[0]["total_sum"] == 6000
    assert elsewhere == ([], 0)  # a manager of another point sees none of them


def test_the_dialogue_view_shows_the_receipt_with_the_upsold_line_escaped(shop) -> None:
    html = pieces.dialogue_receipt(OWNER, shop["upsold"])[1].object
    assert "Круассан &lt;b&gt;" in html and "<b>" not in html.split("Круассан")[1][:5]
    upsold_row = next(row for row in html.split("<tr") if 'class="upsold"' in row)
    assert "Круассан" in upsold_row and "70,00" in upsold_row and ">1</td>" in upsold_row
    assert "220,00\u00a0₽" in html and "Анна" in html and "+70,00" in html
    assert "contradiction" not in html
    flagged = pieces.dialogue_receipt(OWNER, shop["contradicted"])[1].object
    assert 'class="contradiction"' in flagged and "в чеке нет" in flagged


def test_the_overview_and_pipeline_pieces_render_the_figures(shop) -> None:
    with shop["engine"].connect() as conn:
        figures = data.figures(conn, queries.Scope(queries.EVERY_POINT, DAY, DAY, MSK))
    cards = pieces.receipts_overview(figures)
    assert "3 / 3" in cards  # receipts with a dialogue / receipts at known registers
    assert "435,00\u00a0₽" in cards and "50,00\u00a0₽" in cards and "70,00\u00a0₽" in cards
    listed = pieces.unassigned_receipts(OWNER)
    assert f"<h3>{S.UNASSIGNED.format(total=1)}</h3>" in listed and "777" in listed
