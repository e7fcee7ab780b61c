"""The dashboard's data layer against a real, migrated Postgres."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import hypothesis
import hypothesis.strategies as st
import panel as pn
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import add_chunk, add_device, add_dialogue
from google.cloud import pubsub_v1

from dashboard import deadletters, queries
from salescontrol import pubsub, storage

MSK = "Europe/Moscow"  # UTC+3 all year
DAY = date(2026, 11, 20)


def _at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A Moscow wall-clock time on `day`, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=3)


def _said(*texts: str) -> list[dict]:
    return [{"start": i * 5.0, "end": i * 5.0 + 4.0, "text": t} for i, t in enumerate(texts)]


@pytest.fixture
def shop(migrated_db: sa.Engine) -> dict:
    """Two points; point A has two registers. Dialogues with known verdicts on DAY."""
    with migrated_db.begin() as conn:
        a1 = add_device(conn, "Магазин А", "Касса 1")
        a2 = add_device(conn, "Магазин А", "Касса 2", point_id=a1.point_id)
        b1 = add_device(conn, "Магазин Б", "Касса 1")
        offer = {"product": "Пакет", "quote": "Пакет нужен?", "accepted": True}
        ids = {
            "a1_yes": add_dialogue(
                conn,
                a1,
                _at(10),
                segments=_said("Пакет нужен?", "Да, давайте."),
                analysis={
                    "attempted": True,
                    "accepted": True,
                    "quality_score": 9,
                    "offers": [offer],
                    "summary": "Предложил пакет",
                },
            ),
            "a1_no": add_dialogue(
                conn,
                a1,
                _at(11),
                seconds=90,
                segments=_said("Оплата картой."),
                analysis={"attempted": False, "quality_score": 1},
            ),
            "a2_declined": add_dialogue(
                conn,
                a2,
                _at(23, 30),  # 20:30 UTC: still DAY in Moscow
                segments=_said("Возьмите гарантию.", "Нет, спасибо."),
                analysis={
                    "attempted": True,
                    "accepted": False,
                    "quality_score": 6,
                    "offers": [
                        {"product": " пакет ", "quote": "и пакет", "accepted": False},
                        {"product": "Гарантия", "quote": "Возьмите гарантию.", "accepted": False},
                    ],
                },
            ),
            "not_sales": add_dialogue(
                conn,
                b1,
                _at(12),
                segments=_said("Где тут почта?"),
                analysis={"attempted": False, "is_sales_dialogue": False, "quality_score": 0},
            ),
            "pending": add_dialogue(conn, b1, _at(13)),
            # 00:30 Moscow on the next day (21:30 UTC on DAY): outside DAY.
            "next_day": add_dialogue(
                conn,
                b1,
                _at(0, 30, DAY + timedelta(days=1)),
                segments=_said("Пакет нужен?"),
                analysis={
                    "attempted": True,
                    "accepted": True,
                    "quality_score": 10,
                    "offers": [offer],
                },
            ),
        }
    return {"engine": migrated_db, "ids": ids, "a1": a1, "a2": a2, "b1": b1}


def _scope(reach: queries.Reach = queries.EVERY_POINT, **kw) -> queries.Scope:
    return queries.Scope(reach=reach, date_from=DAY, date_to=DAY, tz=MSK, **kw)


def test_overview_counts_a_local_day_and_rates_only_sales_dialogues(shop) -> None:
    with shop["engine"].connect() as conn:
        k = queries.overview(conn, _scope())
        point_a = queries.overview(conn, _scope(point_id=shop["a1"].point_id))
    assert k.dialogues == 5  # next_day falls outside the Moscow day
    assert (k.analysed, k.attempted, k.accepted) == (3, 2, 1)
    assert k.attempt_rate == pytest.approx(2 / 3)
    assert k.acceptance_rate == pytest.approx(0.5)
    assert k.mean_quality == pytest.approx((9 + 1 + 6) / 3)
    assert point_a.dialogues == 3


def test_daily_trend_groups_by_moscow_day(shop) -> None:
    scope = queries.Scope(
        reach=queries.EVERY_POINT, date_from=DAY, date_to=DAY + timedelta(days=1), tz=MSK
    )
    with shop["engine"].connect() as conn:
        days = queries.daily_trend(conn, scope)
    assert [(d["day"], d["dialogues"], d["attempted"]) for d in days] == [
        (DAY, 5, 2),
        (DAY + timedelta(days=1), 1, 1),
    ]
    assert days[1]["attempt_rate"] == 1.0


def test_ranking_puts_the_register_that_offers_most_first(shop) -> None:
    with shop["engine"].connect() as conn:
        rows = queries.ranking(conn, _scope())
    names = [(r["point_name"], r["register_name"]) for r in rows]
    assert names == [("Магазин А", "Касса 2"), ("Магазин А", "Касса 1"), ("Магазин Б", "Касса 1")]
    a1 = rows[1]
    assert (a1["dialogues"], a1["attempt_rate"], a1["acceptance_rate"]) == (2, 0.5, 1.0)
    assert rows[2]["attempt_rate"] is None  # only a non-sales and a pending dialogue


def test_top_products_merge_spellings_and_count_acceptances(shop) -> None:
    with shop["engine"].connect() as conn:
        top = queries.top_products(conn, _scope())
    assert top == [
        {"product": "пакет", "offered": 2, "accepted": 1},
        {"product": "гарантия", "offered": 1, "accepted": 0},
    ]


def test_dialogues_filter_search_sort_and_page(shop) -> None:
    ids = shop["ids"]

    def page(**kw):
        with shop["engine"].connect() as conn:
            return queries.dialogues(conn, queries.DialogueFilter(scope=_scope(), **kw))

    rows, total = page()
    assert total == 5 and rows[0]["dialogue_id"] == ids["a2_declined"]  # newest first
    rows, total = page(attempted=True)
    assert {r["dialogue_id"] for r in rows} == {ids["a1_yes"], ids["a2_declined"]}
    rows, _ = page(attempted=True, accepted=False)
    assert [r["dialogue_id"] for r in rows] == [ids["a2_declined"]]
    rows, _ = page(attempted=False)  # analysed without an attempt; not the pending one
    assert {r["dialogue_id"] for r in rows} == {ids["a1_no"], ids["not_sales"]}
    rows, _ = page(accepted=False)  # declined offers only
    assert [r["dialogue_id"] for r in rows] == [ids["a2_declined"]]
    rows, _ = page(quality_min=5, quality_max=8)
    assert [r["dialogue_id"] for r in rows] == [ids["a2_declined"]]
    rows, _ = page(text="ГАРАНТИ")  # case-insensitive, part of a word
    assert [r["dialogue_id"] for r in rows] == [ids["a2_declined"]]
    rows, total = page(text="100%_")  # LIKE wildcards are literal
    assert (rows, total) == ([], 0)
    rows, _ = page(text="гаран\x00ти")  # a NUL typed into the search box is dropped
    assert [r["dialogue_id"] for r in rows] == [ids["a2_declined"]]
    rows, _ = page(sort="quality", descending=True)
    assert [r["quality_score"] for r in rows] == [9, 6, 1, 0, None]
    rows, _ = page(sort="duration", descending=True)
    assert rows[0]["dialogue_id"] == ids["a1_no"] and rows[0]["duration_sec"] == 90
    first, total = page(sort="started_at", descending=False, page_size=2, page=1)
    third, _ = page(sort="started_at", descending=False, page_size=2, page=3)
    assert total == 5
    assert [r["dialogue_id"] for r in first] == [ids["a1_yes"], ids["a1_no"]]
    assert [r["dialogue_id"] for r in third] == [ids["a2_declined"]]


def test_dialogue_detail_has_segments_and_analysis(shop) -> None:
    with shop["engine"].connect() as conn:
        d = queries.dialogue(conn, shop["ids"]["a2_declined"], queries.EVERY_POINT)
        missing = queries.dialogue(conn, uuid.uuid4(), queries.EVERY_POINT)
    assert missing is None
    assert [s["text"] for s in d["segments"]] == ["Возьмите гарантию.", "Нет, спасибо."]
    assert d["segments"][1]["start"] == 5.0
    assert d["quality_score"] == 6 and d["accepted"] is False
    assert [o["product"] for o in d["offers"]] == [" пакет ", "Гарантия"]
    assert (d["analyzer"], d["prompt_version"], d["point_name"]) == ("rules", "v1", "Магазин А")


def test_pipeline_shows_stuck_work_and_rejected_chunks(shop) -> None:
    engine, ids, b1 = shop["engine"], shop["ids"], shop["b1"]
    old = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE dialogues SET asr_status = 'QUEUED', updated_at = :t WHERE dialogue_id = :d"
            ),
            {"t": old, "d": ids["pending"]},
        )
        for status, error in [("REJECTED", "opus decode failed: bad header"), ("PROCESSING", None)]:
            conn.execute(
                sa.text(
                    "INSERT INTO audio_chunks (chunk_id, device_id, started_at, duration_sec, "
                    "size_bytes, sha256, codec, sample_rate, object_name, status, error, "
                    "updated_at) VALUES (:c, :d, :t, 60, 10, 'x', 'opus', 16000, :o, :s, :e, :t)"
                ),
                {
                    "c": uuid.uuid4(),
                    "d": b1.device_id,
                    "t": old,
                    "o": f"chunks/{uuid.uuid4()}",
                    "s": status,
                    "e": error,
                },
            )
    with engine.connect() as conn:
        p = queries.pipeline(conn, 600, queries.EVERY_POINT)
        relaxed = queries.pipeline(conn, 7200, queries.EVERY_POINT)
    stuck = {(s["stage"], s["status"]) for s in p.stuck}
    assert ("asr", "QUEUED") in stuck and ("vad", "PROCESSING") in stuck
    assert p.stuck_total == len(p.stuck)
    assert relaxed.stuck_total == 0
    assert [r["error"] for r in p.rejected] == ["opus decode failed: bad header"]
    assert {r["status"]: r["count"] for r in p.chunks} == {"PROCESSING": 1, "REJECTED": 1}
    assert sum(r["count"] for r in p.dialogues) == 6


def test_a_managers_reach_keeps_every_query_to_their_points(shop) -> None:
    """Every query a page runs, asked with point B's reach, sees point B's data only;
    asking it for point A on top gives nothing, and an empty reach sees nothing."""
    engine, ids, a1, b1 = shop["engine"], shop["ids"], shop["a1"], shop["b1"]
    old = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as conn:
        mine = {
            add_chunk(conn, b1, "REJECTED", old, "B: bad header"),
            add_chunk(conn, b1, "PROCESSING", old),
        }
        add_chunk(conn, a1, "REJECTED", old, "A: bad header")
        add_chunk(conn, a1, "PROCESSING", old)
        conn.execute(
            sa.text(
                "UPDATE dialogues SET asr_status = 'QUEUED', updated_at = :t "
                "WHERE dialogue_id IN (:a, :b)"
            ),
            {"t": old, "a": ids["a1_no"], "b": ids["pending"]},
        )
    b = queries.Reach(frozenset({b1.point_id}))
    a = queries.Reach(frozenset({a1.point_id}))
    nowhere = queries.Reach(frozenset())
    two_days = queries.Scope(reach=b, date_from=DAY, date_to=DAY + timedelta(days=1), tz=MSK)
    with engine.connect() as conn:
        # overview: KPIs, ranking, trend, products
        summary = queries.summary(conn, _scope(b))
        assert summary.kpis.dialogues == 2  # not_sales and pending
        assert {r["point_name"] for r in summary.ranking} == {"Магазин Б"}
        assert queries.top_products(conn, _scope(b)) == []
        assert queries.top_products(conn, two_days) == [
            {"product": "пакет", "offered": 1, "accepted": 1}
        ]
        assert queries.summary(conn, _scope(b, point_id=a1.point_id)).kpis.dialogues == 0
        assert queries.summary(conn, _scope(nowhere)).kpis.dialogues == 0
        # the filters' choices and default period
        assert {p["point_name"] for p in queries.places(conn, b)} == {"Магазин Б"}
        assert queries.places(conn, nowhere) == []
        assert queries.latest_dialogue_time(conn, a) == _at(23, 30)
        assert queries.latest_dialogue_time(conn, nowhere) is None
        # dialogues and one dialogue
        rows, total = queries.dialogues(conn, queries.DialogueFilter(scope=_scope(b)))
        assert {r["dialogue_id"] for r in rows} == {ids["not_sales"], ids["pending"]}
        assert total == 2
        rows, total = queries.dialogues(
            conn, queries.DialogueFilter(scope=_scope(b, register_id=a1.register_id))
        )
        assert (rows, total) == ([], 0)
        assert queries.dialogue(conn, ids["a1_yes"], b) is None
        assert queries.dialogue(conn, ids["not_sales"], b)["point_name"] == "Магазин Б"
        # pipeline: counts, stuck, rejected
        p = queries.pipeline(conn, 600, b)
        assert [r["error"] for r in p.rejected] == ["B: bad header"]
        assert {r["status"]: r["count"] for r in p.chunks} == {"PROCESSING": 1, "REJECTED": 1}
        assert sum(r["count"] for r in p.dialogues) == 3  # not_sales, pending, next_day
        stuck = {(s["stage"], s["id"]) for s in p.stuck}
        assert ("asr", ids["pending"]) in stuck and ("asr", ids["a1_no"]) not in stuck
        assert {i for stage, i in stuck if stage == "vad"} <= mine
        assert p.stuck_total == len(p.stuck) == 2
        everything = queries.pipeline(conn, 600, queries.EVERY_POINT)
        assert everything.stuck_total == 4 and len(everything.rejected) == 2
        # devices
        assert [d["device_id"] for d in queries.devices(conn, b)] == [b1.device_id]
        assert queries.device_point(conn, a1.device_id, b) is None
        assert queries.device_point(conn, b1.device_id, b) == b1.point_id
        assert queries.devices(conn, nowhere) == []


def test_signed_get_url_downloads_the_object_from_fake_gcs(stack_env) -> None:
    name = f"dialogues/test/{uuid.uuid4()}.ogg"
    storage.bucket().blob(name).upload_from_string(b"OggS-audio", content_type="audio/ogg")
    response = requests.get(storage.signed_get_url(name, ttl_sec=60), timeout=10)
    assert response.status_code == 200
    assert response.content == b"OggS-audio"
    assert "X-Goog-Signature=" in storage.signed_get_url(name)


@pytest.fixture
def dead_letter(stack_env) -> Iterator[str]:
    """A message in analyze-dead-letter, acknowledged (removed) afterwards."""
    marker = str(uuid.uuid4())
    pubsub.publish("analyze-dead-letter", {"marker": marker})
    yield marker
    with pubsub_v1.SubscriberClient() as subscriber:
        path = subscriber.subscription_path(
            stack_env["GOOGLE_CLOUD_PROJECT"], "analyze-dead-letter"
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = subscriber.pull(subscription=path, max_messages=100, timeout=5).received_messages
            mine = [m.ack_id for m in got if marker.encode() in m.message.data]
            others = [m.ack_id for m in got if marker.encode() not in m.message.data]
            if others:
                subscriber.modify_ack_deadline(
                    subscription=path, ack_ids=others, ack_deadline_seconds=0
                )
            if mine:
                subscriber.acknowledge(subscription=path, ack_ids=mine)
                break


def test_dead_letter_counts_see_messages_without_consuming_them(dead_letter) -> None:
    for _ in range(2):  # counting twice: the first count consumed nothing
        counts = {d.source: d for d in deadletters.counts()}
        assert set(counts) == {"vad", "assemble", "asr", "analyze"}
        assert counts["analyze"].subscription == "analyze-dead-letter"
        assert counts["analyze"].count >= 1


def test_a_page_without_its_database_says_so_in_russian(monkeypatch) -> None:
    from dashboard import pages, users
    from dashboard import strings as S
    from salescontrol import config, db

    monkeypatch.setenv("DATABASE_URL", "postgresql+pg8000://nobody@127.0.0.1:1/none")
    config.settings.cache_clear()
    db.dispose_engines()
    owner = users.User(1, "owner", users.Role.OWNER, frozenset())
    page = pages.render(pages.overview_page, owner)
    alerts = [alert for part in page.main for alert in part.select(pn.pane.Alert)]
    shown = " ".join(str(alert.object) for alert in alerts)
    assert shown.startswith(S.PAGE_FAILED.split(":")[0])
    db.dispose_engines()


@hypothesis.settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(data=st.data())
def test_no_filter_reaches_past_the_users_points(shop, data) -> None:
    """Whatever a manager's page asks (any point or register id, text, range, sort, page),
    every dialogue, place and count it gets back is at one of the manager's points."""
    a1, a2, b1 = shop["a1"], shop["a2"], shop["b1"]
    points = [a1.point_id, b1.point_id]
    mine = frozenset(data.draw(st.sets(st.sampled_from(points)), label="reach"))
    reach = queries.Reach(mine)
    optional_id = st.none() | st.sampled_from(
        [a1.point_id, b1.point_id, a1.register_id, a2.register_id, b1.register_id, uuid.uuid4()]
    )
    scope = queries.Scope(
        reach=reach,
        date_from=DAY - timedelta(days=data.draw(st.integers(0, 2))),
        date_to=DAY + timedelta(days=data.draw(st.integers(0, 2))),
        tz=MSK,
        point_id=data.draw(optional_id, label="point"),
        register_id=data.draw(optional_id, label="register"),
    )
    f = queries.DialogueFilter(
        scope=scope,
        attempted=data.draw(st.none() | st.booleans()),
        accepted=data.draw(st.none() | st.booleans()),
        quality_min=data.draw(st.none() | st.integers(-1, 11)),
        text=data.draw(st.text(max_size=12)),
        sort=data.draw(st.sampled_from([*queries.SORTS, "nonsense; DROP TABLE dialogues"])),
        page=data.draw(st.integers(-3, 5)),
        page_size=data.draw(st.integers(-5, 500)),
    )
    allowed = set(mine)
    with shop["engine"].connect() as conn:
        rows, total = queries.dialogues(conn, f)
        found = [queries.dialogue(conn, r["dialogue_id"], reach) for r in rows]
        assert all(d is not None and d["point_id"] in allowed for d in found)
        assert len(rows) <= total
        summary = queries.summary(conn, scope)
        assert {r["point_id"] for r in summary.ranking} <= allowed
        in_reach = conn.execute(
            sa.text("SELECT count(*) FROM dialogues WHERE point_id = ANY(CAST(:p AS uuid[]))"),
            {"p": [str(p) for p in allowed]},
        ).scalar_one()
        assert summary.kpis.dialogues <= in_reach
        assert {p["point_id"] for p in queries.places(conn, reach)} <= allowed
        assert {d["point_id"] for d in queries.devices(conn, reach)} <= allowed


def test_a_verdict_to_review_is_flagged_in_the_list_and_the_detail(shop) -> None:
    dialogue_id = shop["ids"]["a2_declined"]
    with shop["engine"].begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE dialogue_upsell_analysis SET needs_review = true,"
                " review_reason = 'по правилам допродажи не было' WHERE dialogue_id = :d"
            ),
            {"d": dialogue_id},
        )
    with shop["engine"].connect() as conn:
        d = queries.dialogue(conn, dialogue_id, queries.EVERY_POINT)
        rows, _ = queries.dialogues(conn, queries.DialogueFilter(_scope(), page_size=100))
    assert (d["needs_review"], d["review_reason"]) == (True, "по правилам допродажи не было")
    flagged = {r["dialogue_id"] for r in rows if r["needs_review"]}
    assert flagged == {dialogue_id}
