"""GET /api/v1/analytics/daily on the live ingest function (the session stack): the seed's
curl, the admin's and a point's view, the same figures as the dashboard, refusals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from dashboard_data import add_dialogue

from dashboard import queries
from salescontrol import devices

DAILY = "/api/v1/analytics/daily"
MSK = "Europe/Moscow"  # the stack's default DASHBOARD_TIMEZONE (UTC+3 all year)
DAY = date(2026, 11, 20)


def _at(hour: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=3)


def _sale(conn, dev, at, attempted, accepted=None, quality=5, **analysis) -> uuid.UUID:
    return add_dialogue(
        conn,
        dev,
        at,
        segments=[{"start": 0.0, "end": 3.0, "text": "Пакет нужен?"}],
        analysis={
            "attempted": attempted,
            "accepted": accepted,
            "quality_score": quality,
            **analysis,
        },
    )


def _receipt(conn, dev, dialogue_id, number, total, operator, confirmed=None) -> None:
    """A receipt linked to its dialogue; `confirmed`: the amount of an upsold line."""
    point = conn.execute(
        sa.text("SELECT point_id FROM registers WHERE register_id = :r"),
        {"r": dev.register_id},
    ).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO receipts (point_id, kkt_reg_id, fiscal_document_number, register_id, "
            "printed_at, total_sum, items, item_lemmas, operator, dialogue_id) VALUES "
            "(:p, :k, :n, :r, now(), :t, '[]', '[]', :o, :d)"
        ),
        {
            "p": point,
            "k": str(uuid.uuid4().int)[:16],
            "n": number,
            "r": dev.register_id,
            "t": total,
            "o": operator,
            "d": dialogue_id,
        },
    )
    if confirmed is not None:
        check = [{"product": "пакет", "status": "confirmed", "amount": confirmed, "line": 0}]
        conn.execute(
            sa.text(
                "UPDATE dialogue_upsell_analysis SET receipt_check = CAST(:c AS jsonb) "
                "WHERE dialogue_id = :d"
            ),
            {"c": json.dumps(check), "d": dialogue_id},
        )


@pytest.fixture
def shops(api, engine) -> dict:
    """Point A (two registers) and point B, with known dialogues on DAY and the day after."""
    a1 = api.register(point_name="Пекарня А", register_name="Касса 1")
    a2 = api.register(point_id=a1["point_id"], point_name="Пекарня А", register_name="Касса 2")
    b1 = api.register(point_name="Пекарня Б", register_name="Касса 1")
    with engine.begin() as conn:
        d = {
            k: devices.get(conn, uuid.UUID(v["device_id"]))
            for k, v in (("a1", a1), ("a2", a2), ("b1", b1))
        }
        sold = _sale(conn, d["a1"], _at(10), True, True, 9)
        _receipt(conn, d["a1"], sold, 1, 22000, "Анна", confirmed=7000)
        missed = _sale(conn, d["a1"], _at(11), False, quality=3)
        _receipt(conn, d["a1"], missed, 2, 5000, "Анна")
        _sale(conn, d["a2"], _at(12), True, False, 6)
        _sale(conn, d["a2"], _at(13), False, quality=0, is_sales_dialogue=False)
        _sale(conn, d["b1"], _at(10), True, True, 10)
        _sale(conn, d["a1"], _at(9, DAY + timedelta(days=1)), True, False, 4)
    return {
        "a": a1["point_id"],
        "b": b1["point_id"],
        "a1": a1["register_id"],
        "a2": a2["register_id"],
        "b1": b1["register_id"],
        "token_a": api.receipts_token(a1["point_id"]),
    }


def _get(api, token, **params):
    return api.call("GET", DAILY, token=token, params=params)


def test_the_seeds_curl_answers_the_last_seven_days(api) -> None:
    # curl -H "Authorization: Bearer ADMIN_TOKEN" http://CORE_IP:8000/api/v1/analytics/daily
    answer = _get(api, api.admin_token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    first, last = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
    assert (last - first).days == 6 and body["timezone"] == MSK
    assert set(body) >= {"totals", "days", "registers", "cashiers"}


def test_the_admin_gets_each_day_and_register_of_a_point(api, shops) -> None:
    body = _get(
        api, api.admin_token, point_id=shops["a"], **{"from": "2026-11-20", "to": "2026-11-21"}
    ).json()
    t = body["totals"]
    # five dialogues at A over the two days; the staff talk is no sales dialogue
    assert (t["dialogues"], t["sales_dialogues"], t["upsell_attempted"], t["upsell_accepted"]) == (
        5,
        4,
        3,
        1,
    )
    assert t["upsell_rate"] == 0.75 and t["acceptance_rate"] == round(1 / 3, 4)
    assert t["mean_quality"] == round((9 + 3 + 6 + 4) / 4, 2)
    assert (t["receipts_matched"], t["revenue_confirmed"], t["upsells_confirmed"]) == (2, 7000, 1)
    assert [(d["date"], d["dialogues"]) for d in body["days"]] == [
        ("2026-11-20", 4),
        ("2026-11-21", 1),
    ]
    by_register = {(r["date"], r["register_name"]): r for r in body["registers"]}
    assert set(by_register) == {
        ("2026-11-20", "Касса 1"),
        ("2026-11-20", "Касса 2"),
        ("2026-11-21", "Касса 1"),
    }
    day_a1 = by_register["2026-11-20", "Касса 1"]
    assert (day_a1["point_name"], day_a1["register_id"]) == ("Пекарня А", shops["a1"])
    assert (day_a1["dialogues"], day_a1["upsell_rate"], day_a1["acceptance_rate"]) == (2, 0.5, 1.0)
    assert [
        (c["operator"], c["receipts_matched"], c["revenue_confirmed"]) for c in body["cashiers"]
    ] == [("Анна", 2, 7000)]
    assert body["sellers"] == []  # no seller was matched to these dialogues


def test_the_api_gives_the_dashboards_numbers(api, engine, shops) -> None:
    body = _get(
        api, api.admin_token, point_id=shops["a"], **{"from": "2026-11-20", "to": "2026-11-20"}
    ).json()
    scope = queries.Scope(queries.EVERY_POINT, DAY, DAY, MSK, point_id=uuid.UUID(shops["a"]))
    with engine.connect() as conn:
        page = queries.summary(conn, scope)
    assert body["totals"]["dialogues"] == page.kpis.dialogues
    assert body["totals"]["sales_dialogues"] == page.kpis.analysed
    assert body["totals"]["upsell_rate"] == round(page.kpis.attempt_rate, 4)
    assert body["totals"]["mean_quality"] == round(page.kpis.mean_quality, 2)
    ranked = {r["register_name"]: r["attempt_rate"] for r in page.ranking}
    assert {r["register_name"]: r["upsell_rate"] for r in body["registers"]} == ranked


def test_a_points_token_reads_its_own_point_only(api, shops) -> None:
    period = {"from": "2026-11-20", "to": "2026-11-21"}
    own = _get(api, shops["token_a"], **period)
    assert own.status_code == 200, own.text
    body = own.json()
    assert {r["point_id"] for r in body["registers"]} == {shops["a"]}
    assert body["totals"]["dialogues"] == 5
    for other in (shops["b"], shops["b1"], "Пекарня Б"):
        assert other not in own.text
    refused = _get(api, shops["token_a"], point_id=shops["b"], **period)
    assert refused.status_code == 403 and refused.json()["field"] == "point_id"
    assert shops["b1"] not in refused.text
    # another point's register: nothing, as for a register that does not exist
    empty = _get(api, shops["token_a"], register_id=shops["b1"], **period).json()
    assert empty["totals"]["dialogues"] == 0 and empty["registers"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "20.11.2026"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, None),
        ({"from": "2020-01-01", "to": "2026-01-01"}, None),
        ({"from": "0001-01-01"}, None),
        ({"point_id": "../../etc"}, "point_id"),
        ({"days": "7"}, "days"),
    ],
)
def test_a_bad_query_is_refused_naming_the_parameter(api, params, field) -> None:
    answer = _get(api, api.admin_token, **params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    if field:
        assert answer.json()["field"] == field


def test_a_parameter_given_twice_is_refused(api) -> None:
    answer = api.call("GET", DAILY + "?from=2026-11-01&from=2026-11-02", token=api.admin_token)
    assert answer.status_code == 400 and answer.json()["field"] == "from"


def test_who_may_not_ask(api, device) -> None:
    assert _get(api, None).status_code == 401
    assert _get(api, "x" * 64).status_code == 401
    assert _get(api, device["token"]).status_code == 401  # a device token is no point's
