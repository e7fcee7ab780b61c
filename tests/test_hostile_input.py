"""Hostile input on the ingest API: its OpenAPI document, fuzzing, tokens, signed URLs,
path tricks, replays, oversized bodies and the per-device rate limit."""

from __future__ import annotations

import concurrent.futures
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import jsonschema
import pytest
import requests
import sqlalchemy as sa
from dashboard_data import add_dialogue
from test_ingest import announcement

from devkit import signed_urls
from devkit.soak import fuzz
from devkit.waiting import poll_until
from salescontrol import devices, erasure, ratelimit
from salescontrol.db import advisory_key

UPLOAD = "/api/v1/chunks/upload-url"


# --- the OpenAPI document -------------------------------------------------------------


def test_openapi_document_describes_every_route_from_the_models(api) -> None:
    response = api.call("GET", "/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    operations = {(m.upper(), p) for p, methods in doc["paths"].items() for m in methods}
    assert operations == {
        ("GET", "/health"),
        ("GET", "/openapi.json"),
        ("POST", "/api/v1/admin/devices"),
        ("GET", "/api/v1/admin/devices"),
        ("GET", "/api/v1/admin/devices/{device_id}"),
        ("PATCH", "/api/v1/admin/devices/{device_id}"),
        ("POST", "/api/v1/admin/devices/{device_id}/token"),
        ("POST", UPLOAD),
        ("POST", "/api/v1/chunks/status"),
        ("POST", "/api/v1/devices/heartbeat"),
        ("POST", "/api/v1/admin/points/{point_id}/receipts-token"),
        ("POST", "/api/v1/receipts"),
        ("POST", "/api/v1/admin/erasures"),
        ("GET", "/api/v1/admin/erasures"),
        ("GET", "/api/v1/admin/erasures/{erasure_id}"),
        ("GET", "/api/v1/analytics/daily"),
    }
    schemes = doc["components"]["securitySchemes"]
    assert {s["scheme"] for s in schemes.values()} == {"bearer"}
    upload = doc["paths"][UPLOAD]["post"]
    assert upload["security"] == [{"deviceToken": []}]
    assert set(upload["responses"]) >= {"201", "400", "401", "403", "409", "413", "429"}
    assert "Retry-After" in upload["responses"]["429"]["headers"]
    announced = doc["components"]["schemas"]["ChunkAnnouncement"]
    assert set(announced["required"]) >= {"chunk_id", "started_at", "size_bytes", "sha256"}
    assert announced["properties"]["sha256"]["pattern"] == "^[0-9a-f]{64}$"
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    # A body valid against the document is accepted by the API (they agree).
    device = api.register()
    validator = jsonschema.Draft202012Validator(
        {**announced, "components": doc["components"]}, format_checker=None
    )
    body = announcement()
    validator.validate(body)
    assert api.call("POST", UPLOAD, token=device["token"], json=body).status_code == 201


def test_fuzzing_the_documented_api_finds_no_5xx_and_no_leak(api, engine) -> None:
    victim_name = f"victim-{uuid.uuid4().hex}"
    victim_device = api.register(point_name=victim_name)
    chunk = announcement()
    first = api.call("POST", UPLOAD, token=victim_device["token"], json=chunk)
    assert first.status_code == 201
    attacker = api.register()

    def refill() -> None:
        # The rate limits would turn most of the attacker's calls into 429s.
        with engine.begin() as conn:
            for table in ("upload_rate_buckets", "heartbeat_rate_buckets"):
                conn.execute(
                    sa.text(f"DELETE FROM {table} WHERE device_id = :d"),
                    {"d": attacker["device_id"]},
                )

    # Each point has a receipts token; the victim's point has a register with a ККТ and a
    # stored receipt the attacker's point may neither see nor claim.
    kkt = "0000000000" + str(uuid.uuid4().int)[:6]
    api.admin(
        "PATCH", f"/api/v1/admin/devices/{victim_device['device_id']}", json={"kkt_reg_id": kkt}
    )
    victim_receipts = api.receipts_token(victim_device["point_id"])
    stored = api.post_receipts(victim_receipts, [_receipt(kkt)])
    assert stored["stored"] == 1
    # A dialogue of today, so the victim's point has figures the analytics API could leak.
    with engine.begin() as conn:
        dev = devices.get(conn, uuid.UUID(victim_device["device_id"]))
        add_dialogue(
            conn, dev, datetime.now(UTC) - timedelta(minutes=5), analysis={"attempted": True}
        )
    victim = fuzz.Victim(
        victim_device["device_id"],
        victim_device["token"],
        [chunk["chunk_id"]],
        victim_receipts,
        [victim_device["point_id"], victim_device["register_id"], victim_name],
    )
    attacker_receipts = api.receipts_token(attacker["point_id"])
    # Valid erasure requests (admin) must not erase the session's data: the sweeper's
    # erasure runner waits while this holds its lock, and what the fuzz asked is dropped.
    with engine.connect() as runner:
        runner.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": advisory_key(erasure.RUNNER)})
        try:
            report = fuzz.run(
                api.base,
                api.admin_token,
                attacker["token"],
                victim,
                150,
                refill,
                (attacker_receipts,),
            )
        finally:
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM erasures WHERE status = 'PENDING'"))
            runner.execute(sa.text("SELECT pg_advisory_unlock_all()"))
            runner.commit()
    assert report.examples >= 150
    assert any(400 <= status < 500 for status in report.by_status)
    assert any(status < 300 for status in report.by_status)


def _receipt(kkt: str) -> dict:
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    item = {"name": "Круассан", "price": 7000, "quantity": 1, "sum": 7000}
    return {
        "dateTime": at,
        "kktRegId": kkt,
        "fiscalDocumentNumber": 1,
        "totalSum": 7000,
        "items": [item],
    }


# --- tokens ---------------------------------------------------------------------------


def test_each_wrong_credential_gets_its_own_error(api, device) -> None:
    other = api.register()
    rotated = api.register()
    new = api.admin("POST", f"/api/v1/admin/devices/{rotated['device_id']}/token", json={})
    cases = [
        (None, UPLOAD, 401, "missing device token"),
        ("f" * 64, UPLOAD, 401, "unknown device token"),
        (rotated["token"], UPLOAD, 401, "unknown device token"),  # expired by rotation
        (api.admin_token, UPLOAD, 401, "unknown device token"),
        (device["token"], "/api/v1/admin/devices", 403, "wrong admin token"),
    ]
    for token, path, status, message in cases:
        response = api.call("POST", path, token=token, json=announcement())
        assert response.status_code == status, (token, path, response.text)
        assert message in response.json()["message"]
    assert api.call("POST", UPLOAD, token=new.json()["token"], json=announcement()).ok
    # Another device's token cannot claim this device's chunk, nor learn about it.
    body = announcement()
    mine = api.call("POST", UPLOAD, token=device["token"], json=body).json()
    theirs = api.call("POST", UPLOAD, token=other["token"], json=body)
    assert theirs.status_code == 409
    assert device["device_id"] not in theirs.text and mine["object_name"] not in theirs.text


# --- signed URLs ----------------------------------------------------------------------


@pytest.fixture
def signed(api, device, stack):
    """A fresh upload grant of the device: (answer, announced body, public key)."""
    body = announcement()
    answer = api.call("POST", UPLOAD, token=device["token"], json=body).json()
    key = signed_urls.public_key(stack.env["SIGNING_KEY_FILE"])
    return answer, body, key


def test_signed_url_signs_the_object_size_and_no_overwrite(signed, device, stack) -> None:
    answer, body, key = signed
    url, headers = answer["upload"]["url"], answer["upload"]["headers"]
    parts = urlsplit(url)
    assert parts.path.startswith(f"/{stack.bucket}/chunks/{device['device_id']}/")
    assert parts.path.endswith(f"_{body['chunk_id']}.ogg")
    signed_headers = dict(p.split("=", 1) for p in parts.query.split("&"))["X-Goog-SignedHeaders"]
    assert set(signed_urls.REQUIRED_SIGNED) <= set(signed_headers.split("%3B"))
    assert headers["x-goog-if-generation-match"] == "0"
    assert headers["x-goog-content-length-range"] == f"{body['size_bytes']},{body['size_bytes']}"
    # The request the device is told to make passes GCS's checks, signature included.
    signed_urls.check(signed_urls.PutRequest(url, headers, body["size_bytes"]), key)


def test_signed_url_reused_otherwise_is_refused(signed, stack) -> None:
    answer, body, key = signed
    url, headers, size = answer["upload"]["url"], answer["upload"]["headers"], body["size_bytes"]
    parts = urlsplit(url)
    other_object = urlunsplit(parts._replace(path=parts.path.replace(body["chunk_id"], "x")))
    cases = {
        "another object": (other_object, headers, size, "signature does not match"),
        "a bigger body": (url, headers, size + 1, "outside the signed range"),
        "a widened range": (
            url,
            {**headers, "x-goog-content-length-range": f"0,{10 * size}"},
            size + 1,
            "signature does not match",
        ),
        "no overwrite guard": (
            url,
            {k: v for k, v in headers.items() if k != "x-goog-if-generation-match"},
            size,
            "not sent: x-goog-if-generation-match",
        ),
        "another content type": (
            url,
            {**headers, "Content-Type": "text/html"},
            size,
            "signature does not match",
        ),
    }
    for name, (target, sent, length, reason) in cases.items():
        with pytest.raises(signed_urls.SignatureRefused, match=reason):
            signed_urls.check(signed_urls.PutRequest(target, sent, length), key)
            pytest.fail(f"{name} was accepted")
    later = datetime.now(UTC) + timedelta(seconds=601)
    with pytest.raises(signed_urls.SignatureRefused, match="expired"):
        signed_urls.check(signed_urls.PutRequest(url, headers, size), key, now=later)


# --- ids, replays, sizes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/v1/admin/devices/..%2F..%2Fetc%2Fpasswd", 404, "not_found"),
        ("/api/v1/admin/devices/../../etc/passwd", 404, "not_found"),
        (
            "/api/v1/admin/devices/%D1%83%D1%81%D1%82%D1%80%D0%BE%D0%B9%D1%81%D1%82%D0%B2%D0%BE",
            400,
            "invalid_request",
        ),
        ("/api/v1/admin/devices/" + "a" * 4000, 400, "invalid_request"),
        ("/api/v1/admin/devices/%00", 400, "invalid_request"),
    ],
    ids=["encoded-dotdot", "dotdot", "unicode", "very-long", "nul"],
)
def test_path_tricks_in_ids_are_refused(api, path, status, error) -> None:
    response = requests.get(
        api.base + path, headers={"Authorization": f"Bearer {api.admin_token}"}, timeout=30
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    if status == 400:
        assert response.json()["field"] == "device_id"
    else:
        assert "no GET route for '/api/v1/" in response.json()["message"]


@pytest.mark.parametrize(
    "chunk_id", ["../../etc/passwd", "../" + str(uuid.uuid4()), "чанк", "a" * 5000, "\x00"]
)
def test_path_tricks_in_body_ids_are_refused(api, device, chunk_id) -> None:
    response = api.call("POST", UPLOAD, token=device["token"], json=announcement(chunk_id=chunk_id))
    assert response.status_code == 400
    assert response.json()["field"] == "chunk_id"


def test_replayed_announcements_give_one_row_and_the_same_answer(api, device, engine) -> None:
    body = announcement()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: api.call("POST", UPLOAD, token=device["token"], json=body), range(8))
        )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["object_name"] for a in answers}) == 1
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT count(*) FROM audio_chunks WHERE chunk_id = :c"),
            {"c": body["chunk_id"]},
        ).scalar_one()
    assert rows == 1


def test_oversized_body_without_length_is_413(api, device) -> None:
    def chunks():
        yield b'{"chunk_id": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    response = requests.post(
        api.base + UPLOAD,
        data=chunks(),  # chunked transfer: no Content-Length to refuse early
        headers={"Authorization": f"Bearer {device['token']}"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


# --- rate limit -----------------------------------------------------------------------


def test_upload_url_rate_limit_answers_429_with_retry_after(api, device, engine) -> None:
    other = api.register()
    with engine.begin() as conn:  # as if the device had just spent its whole burst
        conn.execute(
            sa.text(
                "INSERT INTO upload_rate_buckets (device_id, tokens, updated_at) "
                "VALUES (:d, 0, clock_timestamp())"
            ),
            {"d": device["device_id"]},
        )
    refused = api.call("POST", UPLOAD, token=device["token"], json=announcement())
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2  # the default 60/min refills one token a second
    assert api.call("POST", UPLOAD, token=other["token"], json=announcement()).status_code == 201
    answer = poll_until(
        lambda: (
            (r := api.call("POST", UPLOAD, token=device["token"], json=announcement())).status_code
            != 429
            and r
        ),
        10,
        0.25,
        "the bucket to refill",
    )
    assert answer.status_code == 201


def test_rate_limit_holds_across_instances(migrated_db) -> None:
    """Two connections (two function instances) share one bucket: burst is never exceeded."""
    device_id = uuid.uuid4()
    with migrated_db.begin() as conn:
        devices.register(conn, device_id, uuid.uuid4(), uuid.uuid4())
    allowed, start = [], threading.Barrier(4)

    def instance() -> None:
        start.wait()
        for _ in range(10):
            try:
                with migrated_db.begin() as conn:
                    ratelimit.take(conn, device_id, rate_per_min=0.6, burst=15)
                allowed.append(1)
            except ratelimit.RateLimited as exc:
                assert exc.retry_after_sec >= 1

    threads = [threading.Thread(target=instance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 15
