"""Receipts through the ingest API and the import command, matched to dialogues stored in
the real schema, and the upsell check stored with the analysis."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from dashboard_data import add_dialogue

from salescontrol import devices, lemmas, receipts

RECEIPTS = "/api/v1/receipts"
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)


def _kkt() -> str:
    return f"{random.randrange(10**15, 10**16):016d}"


def receipt(kkt: str, number: int, at: datetime, *lines: tuple[str, int, int], **extra) -> dict:
    """A receipt in the tax service's JSON; lines are (name, price, quantity) in kopecks."""
    items = [{"name": n, "price": p, "quantity": q, "sum": p * q} for n, p, q in lines]
    return {
        "dateTime": at.isoformat(),
        "kktRegId": kkt + "    ",  # padded, as the tax service's export pads it
        "fiscalDocumentNumber": number,
        "totalSum": sum(i["sum"] for i in items),
        "items": items,
        "operator": "Иванова А.",
        "fiscalSign": 1234567890,  # other fields of the export are ignored
        **extra,
    }


@pytest.fixture
def shop(api, engine) -> dict:
    """A device whose register has a ККТ, and its point's receipts token."""
    kkt = _kkt()
    created = api.register(kkt_reg_id=kkt, point_name="Пекарня", register_name="Касса 1")
    assert created["kkt_reg_id"] == kkt
    with engine.connect() as conn:
        dev = devices.get(conn, uuid.UUID(created["device_id"]))
    return {"kkt": kkt, "device": dev, "token": api.receipts_token(created["point_id"])}


def dialogue(
    engine, dev, ends: datetime, offers: list[dict] | None = None, said: str = ""
) -> uuid.UUID:
    """A closed dialogue ending at `ends` (and its analysis of what was `said`), announced
    as assembly and the analyze function announce theirs."""
    with engine.begin() as conn:
        analysis = None if offers is None else {"attempted": bool(offers), "offers": offers}
        segments = [{"start": 0.0, "end": 20.0, "text": said}] if said else []
        did = add_dialogue(conn, dev, ends - timedelta(seconds=20), 20.0, segments, analysis)
        receipts.dialogue_added(conn, did)
        if offers is not None:
            terms = lemmas.check_terms(said, [o["product"] for o in offers])
            receipts.analysed(conn, did, terms)
    return did


def links(engine, kkt: str) -> dict[int, uuid.UUID | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT fiscal_document_number AS n, dialogue_id FROM receipts "
                "WHERE kkt_reg_id = :k"
            ),
            {"k": kkt},
        ).all()
    return {r.n: r.dialogue_id for r in rows}


def check_of(engine, dialogue_id: uuid.UUID) -> tuple[list[dict] | None, bool | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT receipt_check, receipt_contradiction FROM dialogue_upsell_analysis "
                "WHERE dialogue_id = :d"
            ),
            {"d": dialogue_id},
        ).one()
    return row.receipt_check, row.receipt_contradiction


# --- the API --------------------------------------------------------------------------


def test_receipts_token_is_shown_once_stored_hashed_and_rotation_revokes_it(
    api, shop, engine
) -> None:
    point = str(shop["device"].point_id)
    body = {"receipts": [receipt(shop["kkt"], 1, BASE, ("Батон", 5000, 1))]}
    assert api.call("POST", RECEIPTS, token=shop["token"], json=body).status_code == 200
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT token_hash FROM receipt_tokens WHERE point_id = :p"), {"p": point}
        ).scalar_one()
    assert stored == devices.hash_token(shop["token"]) and shop["token"] not in stored
    new = api.receipts_token(point)
    for token, status, message in [
        (shop["token"], 401, "unknown receipts token"),
        (None, 401, "missing receipts token"),
        (api.admin_token, 401, "unknown receipts token"),
        (api.register()["token"], 401, "unknown receipts token"),  # a device's token
    ]:
        answer = api.call("POST", RECEIPTS, token=token, json=body)
        assert answer.status_code == status and message in answer.json()["message"]
    assert api.call("POST", RECEIPTS, token=new, json=body).json()["duplicates"] == 1
    unknown = api.admin("POST", f"/api/v1/admin/points/{uuid.uuid4()}/receipts-token", json={})
    assert unknown.status_code == 404 and unknown.json()["field"] == "point_id"


def test_a_batch_keeps_good_receipts_and_refuses_each_bad_one_naming_its_field(
    api, shop, engine
) -> None:
    kkt, good = shop["kkt"], ("Капучино", 15000, 1)
    wrong_total = {**receipt(kkt, 11, BASE, good), "totalSum": 1}
    negative = receipt(kkt, 12, BASE, good)
    negative["items"][0]["price"] = -1
    refund = receipt(kkt, 13, BASE, good, operationType=2)
    no_kkt = {k: v for k, v in receipt(kkt, 14, BASE, good).items() if k != "kktRegId"}
    future = receipt(kkt, 15, datetime.now(UTC) + timedelta(days=1), good)
    kopecks_as_text = receipt(kkt, 16, BASE, good)
    kopecks_as_text["items"][0]["sum"] = "15000"
    batch = [
        receipt(kkt, 10, BASE, good),
        wrong_total,
        negative,
        refund,
        no_kkt,
        future,
        "not a receipt",
        kopecks_as_text,
        # the app's export wrapper, local time without an offset (RECEIPTS_TIMEZONE)
        {
            "ticket": {
                "document": {
                    "receipt": {**receipt(kkt, 17, BASE, good), "dateTime": "2026-01-05T09:30:00"}
                }
            }
        },
    ]
    outcome = api.post_receipts(shop["token"], batch)
    assert (outcome["stored"], outcome["duplicates"], outcome["unassigned"]) == (2, 0, 0)
    assert [(r["index"], r["field"]) for r in outcome["rejected"]] == [
        (1, "totalSum"),
        (2, "items.0.price"),
        (3, "operationType"),
        (4, "kktRegId"),
        (5, "dateTime"),
        (6, "receipt"),
        (7, "items.0.sum"),
    ]
    assert "sum of the items" in outcome["rejected"][0]["message"]
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT fiscal_document_number AS n, printed_at, operator, items FROM receipts "
                "WHERE kkt_reg_id = :k ORDER BY 1"
            ),
            {"k": kkt},
        ).all()
    assert [r.n for r in stored] == [10, 17]
    assert stored[1].printed_at == datetime(2026, 1, 5, 6, 30, tzinfo=UTC)  # Moscow = UTC+3
    assert stored[0].operator == "Иванова А." and stored[0].items[0]["name"] == "Капучино"
    # the envelope itself is checked as any request body
    answer = api.call("POST", RECEIPTS, token=shop["token"], json={"receipts": []})
    assert answer.status_code == 400 and answer.json()["field"] == "receipts"


def test_reposting_is_idempotent_and_a_changed_receipt_under_a_stored_number_is_refused(
    api, shop, engine
) -> None:
    ends = BASE + timedelta(hours=1)
    did = dialogue(engine, shop["device"], ends)
    batch = [
        receipt(shop["kkt"], n, ends + timedelta(seconds=n), ("Чай", 14000, 1)) for n in (1, 2)
    ]
    first = api.post_receipts(shop["token"], batch)
    assert (first["stored"], first["duplicates"]) == (2, 0)
    before = links(engine, shop["kkt"])
    assert before == {1: did, 2: None}
    again = api.post_receipts(shop["token"], list(reversed(batch)))
    assert (again["stored"], again["duplicates"], again["rejected"]) == (0, 2, [])
    assert links(engine, shop["kkt"]) == before
    changed = receipt(shop["kkt"], 1, ends + timedelta(seconds=1), ("Чай", 15000, 1))
    (refused,) = api.post_receipts(shop["token"], [changed])["rejected"]
    assert refused["field"] == "fiscalDocumentNumber" and "already stored" in refused["message"]
    with engine.connect() as conn:
        total = conn.execute(
            sa.text(
                "SELECT total_sum FROM receipts WHERE kkt_reg_id = :k "
                "AND fiscal_document_number = 1"
            ),
            {"k": shop["kkt"]},
        ).scalar_one()
    assert total == 14000


# --- matching -------------------------------------------------------------------------

# Seconds from the start of a morning: (dialogue ends) and (receipts printed). A and B are
# queued customers: B steps up 2 s after A is done and is done by 75 s; A's receipt prints
# at 70 s, while B talks. A staff talk ends at 400 s; the next sale's receipt prints 2 s
# before its end (the seller says goodbye after printing); a receipt at 1000 s has no
# dialogue in reach (a customer the microphone missed).
ENDS = {"A": 60, "B": 75, "staff": 400, "sale": 460}
PRINTS = {1: 70, 2: 78, 3: 458, 4: 1000}
EXPECTED = {1: "A", 2: "B", 3: "sale", 4: None}


@pytest.mark.parametrize(
    "order",
    ["dialogues first", "receipts first", "interleaved backwards", "shuffled", "a day late"],
)
def test_matching_ends_the_same_for_any_arrival_order(api, engine, order) -> None:
    kkt = _kkt()
    created = api.register(kkt_reg_id=kkt)
    token = api.receipts_token(created["point_id"])
    with engine.connect() as conn:
        dev = devices.get(conn, uuid.UUID(created["device_id"]))
    day = BASE.replace(hour=6, minute=0, second=0)
    made: dict[str, uuid.UUID] = {}
    events = [("d", name) for name in ENDS] + [("r", n) for n in PRINTS]
    if order == "receipts first":
        events.reverse()
    elif order == "interleaved backwards":
        events = [e for pair in zip(reversed(events[:4]), events[4:], strict=True) for e in pair]
    elif order == "shuffled":
        random.Random(21).shuffle(events)
    elif order == "a day late":  # the receipts come after the next day's sales are in
        for second in ENDS.values():
            dialogue(engine, dev, day + timedelta(days=1, seconds=second))
        api.post_receipts(
            token,
            [
                receipt(kkt, 100 + n, day + timedelta(days=1, seconds=s), ("Чай", 100, 1))
                for n, s in PRINTS.items()
            ],
        )
    for kind, key in events:
        if kind == "d":
            made[key] = dialogue(engine, dev, day + timedelta(seconds=ENDS[key]))
        else:
            at = day + timedelta(seconds=PRINTS[key])
            api.post_receipts(token, [receipt(kkt, key, at, ("Чай", 14000, 1))])
    linked = {n: d for n, d in links(engine, kkt).items() if n < 100}
    assert linked == {n: made.get(name) for n, name in EXPECTED.items()}


def test_a_receipt_of_an_unknown_kkt_is_unassigned_until_the_kkt_is_set(api, engine) -> None:
    created = api.register()
    token = api.receipts_token(created["point_id"])
    with engine.connect() as conn:
        dev = devices.get(conn, uuid.UUID(created["device_id"]))
    ends = BASE + timedelta(hours=3)
    did = dialogue(engine, dev, ends)
    kkt = _kkt()
    outcome = api.post_receipts(
        token, [receipt(kkt, 7, ends + timedelta(seconds=3), ("Вода", 6000, 1))]
    )
    assert (outcome["stored"], outcome["unassigned"]) == (1, 1)
    assert links(engine, kkt) == {7: None}
    path = f"/api/v1/admin/devices/{created['device_id']}"
    assert api.admin("PATCH", path, json={"kkt_reg_id": kkt}).json()["kkt_reg_id"] == kkt
    assert links(engine, kkt) == {7: did}
    other = api.register()
    taken = api.admin(
        "PATCH", f"/api/v1/admin/devices/{other['device_id']}", json={"kkt_reg_id": kkt}
    )
    assert taken.status_code == 409 and taken.json()["field"] == "kkt_reg_id"
    assert api.admin("PATCH", path, json={}).status_code == 400


def test_another_point_can_neither_see_nor_claim_a_points_receipts(api, shop, engine) -> None:
    ends = BASE + timedelta(hours=4)
    did = dialogue(engine, shop["device"], ends)
    mine = receipt(shop["kkt"], 5, ends + timedelta(seconds=2), ("Торт", 65000, 1))
    api.post_receipts(shop["token"], [mine])
    intruder = api.register()
    token = api.receipts_token(intruder["point_id"])
    forged = receipt(shop["kkt"], 5, ends + timedelta(seconds=1), ("Торт", 1, 1))
    answer = api.call("POST", RECEIPTS, token=token, json={"receipts": [forged]})
    assert answer.status_code == 200
    assert answer.json() == {"stored": 1, "duplicates": 0, "unassigned": 1, "rejected": []}
    for secret in (str(did), str(shop["device"].point_id), str(shop["device"].register_id)):
        assert secret not in answer.text
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT point_id, register_id, total_sum, dialogue_id FROM receipts "
                "WHERE kkt_reg_id = :k ORDER BY total_sum"
            ),
            {"k": shop["kkt"]},
        ).all()
    assert [(str(r.point_id), r.register_id, r.total_sum, r.dialogue_id) for r in rows] == [
        (intruder["point_id"], None, 1, None),
        (str(shop["device"].point_id), shop["device"].register_id, 65000, did),
    ]


# --- the upsell check -------------------------------------------------------------------


def test_the_upsell_check_follows_the_receipt_whichever_comes_first(api, shop, engine) -> None:
    offers = [
        {"product": "круассан", "quote": "Может, круассан к кофе?", "accepted": True},
        {"product": "овсяное печенье", "quote": "И печенье?", "accepted": False},
    ]
    first = BASE + timedelta(hours=5)
    said = "Мне капучино. Может, круассан к кофе? Да. И печенье? Нет."
    analysed_first = dialogue(engine, shop["device"], first, offers, said)
    assert [c["status"] for c in check_of(engine, analysed_first)[0]] == ["no_receipt"] * 2
    bought = [("Капучино 0,3", 15000, 1), ("Круассан классический", 7000, 1)]
    api.post_receipts(
        shop["token"], [receipt(shop["kkt"], 30, first + timedelta(seconds=4), *bought)]
    )
    checked, contradicted = check_of(engine, analysed_first)
    assert [(c["status"], c["line"], c["amount"]) for c in checked] == [
        ("confirmed", 1, 7000),
        ("not_bought", None, None),
    ]
    assert checked[0]["name"] == "Круассан классический" and contradicted is False
    # receipt first, analysis later: the same check; an accepted offer not bought is flagged
    later = BASE + timedelta(hours=6)
    api.post_receipts(
        shop["token"],
        [receipt(shop["kkt"], 31, later + timedelta(seconds=4), ("Капучино 0,3", 15000, 1))],
    )
    receipt_first = dialogue(engine, shop["device"], later, offers[:1], said)
    checked, contradicted = check_of(engine, receipt_first)
    assert [c["status"] for c in checked] == ["not_bought"] and contradicted is True


def test_the_sweeper_relinks_a_receipt_whose_dialogue_was_erased(
    api, shop, engine, stack_env, sweeper_alone
) -> None:
    ends = datetime.now(UTC) - timedelta(hours=1)
    near = dialogue(engine, shop["device"], ends)
    far = dialogue(engine, shop["device"], ends - timedelta(seconds=60))
    api.post_receipts(
        shop["token"], [receipt(shop["kkt"], 40, ends + timedelta(seconds=5), ("Сок", 9000, 1))]
    )
    assert links(engine, shop["kkt"]) == {40: near}
    with engine.begin() as conn:  # as an erase would: the row goes, the link with it
        conn.execute(sa.text("DELETE FROM dialogues WHERE dialogue_id = :d"), {"d": near})
    assert links(engine, shop["kkt"]) == {40: None}
    assert receipts.repair() >= 1
    assert links(engine, shop["kkt"]) == {40: far}
    with engine.connect() as conn:  # nothing left for the next tick to do here
        left = conn.execute(
            sa.text("SELECT count(*) FROM receipts WHERE kkt_reg_id = :k AND dialogue_id IS NULL"),
            {"k": shop["kkt"]},
        ).scalar_one()
    assert left == 0
    assert receipts.repair() == 0  # matching is complete everywhere: nothing to repair


# --- the import command ---------------------------------------------------------------


def test_import_command_posts_json_lines_through_the_api(
    api, shop, engine, stack, tmp_path
) -> None:
    kkt = shop["kkt"]
    good = [receipt(kkt, n, BASE + timedelta(minutes=n), ("Батон", 5000, 1)) for n in (50, 51)]
    bad = {**receipt(kkt, 52, BASE, ("Батон", 5000, 1)), "totalSum": 0}
    lines = tmp_path / "receipts.jsonl"
    lines.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [good[0], bad, good[1]]))
    env = {
        **os.environ,
        "INGEST_URL": stack.url("ingest"),
        "RECEIPTS_TOKEN": shop["token"],
    }

    def run(path) -> tuple[int, dict]:
        done = subprocess.run(
            [sys.executable, "-m", "salescontrol", "receipts", "import", str(path), "--batch", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, json.loads(done.stdout)

    code, outcome = run(lines)
    assert code == 1 and (outcome["stored"], outcome["duplicates"]) == (2, 0)
    assert [(r["index"], r["field"]) for r in outcome["rejected"]] == [(1, "totalSum")]
    as_list = tmp_path / "receipts.json"
    as_list.write_text(json.dumps(good))
    assert run(as_list) == (0, {"stored": 0, "duplicates": 2, "unassigned": 0, "rejected": []})
    assert set(links(engine, kkt)) == {50, 51}
