"""The ingest function through functions-framework, as devices and admins call it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from salescontrol.devices import hash_token

UPLOAD = "/api/v1/chunks/upload-url"


def announcement(**overrides) -> dict:
    body = {
        "chunk_id": str(uuid.uuid4()),
        "started_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "duration_sec": 60.0,
        "size_bytes": 1000,
        "sha256": "ab" * 32,
        "codec": "opus",
        "sample_rate": 16000,
    }
    body.update(overrides)
    return body


def test_health(api) -> None:
    response = api.call("GET", "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


@pytest.mark.parametrize(
    ("token", "status"), [(None, 401), ("wrong-token", 403)], ids=["missing", "wrong"]
)
def test_admin_calls_need_the_admin_token(api, token, status) -> None:
    for method, path in [("GET", "/api/v1/admin/devices"), ("POST", "/api/v1/admin/devices")]:
        response = api.call(method, path, token=token, json={})
        assert response.status_code == status
        assert response.json()["error"] in ("unauthorized", "forbidden")


def test_registration_generates_a_token_shown_once_and_stored_hashed(api, engine) -> None:
    created = api.register(point_name="Магазин на Ленина", register_name="Касса 1")
    token = created["token"]
    assert len(token) == 64 and int(token, 16) >= 0
    assert created["point_name"] == "Магазин на Ленина"
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT * FROM devices WHERE device_id = :d"), {"d": created["device_id"]}
        ).one()
    assert row.token_hash == hash_token(token)
    assert token not in json.dumps([str(v) for v in row])
    listed = api.admin("GET", "/api/v1/admin/devices").json()["devices"]
    mine = [d for d in listed if d["device_id"] == created["device_id"]]
    assert len(mine) == 1 and "token" not in mine[0] and "token_hash" not in mine[0]
    again = api.admin("GET", f"/api/v1/admin/devices/{created['device_id']}").json()
    assert "token" not in again


def test_registration_with_the_seed_body_keeps_the_given_token(api) -> None:
    token = uuid.uuid4().hex * 2
    body = {
        "device_id": str(uuid.uuid4()),
        "point_id": str(uuid.uuid4()),
        "register_id": str(uuid.uuid4()),
        "token": token,
        "is_enabled": True,
    }
    response = api.admin("POST", "/api/v1/admin/devices", json=body)
    assert response.status_code == 201
    assert "token" not in response.json()
    assert api.call("POST", UPLOAD, token=token, json=announcement()).status_code == 201
    duplicate = api.admin("POST", "/api/v1/admin/devices", json=body)
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "device_id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"device_id": "not-a-uuid"}, "device_id"),
        ({"token": "short"}, "token"),
        ({"is_enabled": "maybe"}, "is_enabled"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_registration_names_the_field(api, change, field) -> None:
    body = {
        "device_id": str(uuid.uuid4()),
        "point_id": str(uuid.uuid4()),
        "register_id": str(uuid.uuid4()),
        **change,
    }
    response = api.admin("POST", "/api/v1/admin/devices", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_device_token_cases(api, device) -> None:
    assert api.call("POST", UPLOAD, json=announcement()).status_code == 401
    basic = {"Authorization": f"Basic {device['token']}"}
    assert api.call("POST", UPLOAD, json=announcement(), headers=basic).status_code == 401
    assert api.call("POST", UPLOAD, token="0" * 64, json=announcement()).status_code == 401
    assert api.call("POST", UPLOAD, token=api.admin_token, json=announcement()).status_code == 401
    path = f"/api/v1/admin/devices/{device['device_id']}"
    assert api.admin("PATCH", path, json={"is_enabled": False}).json()["is_enabled"] is False
    refused = api.call("POST", UPLOAD, token=device["token"], json=announcement())
    assert refused.status_code == 403
    assert "disabled" in refused.json()["message"]
    api.admin("PATCH", path, json={"is_enabled": True})
    assert api.call("POST", UPLOAD, token=device["token"], json=announcement()).status_code == 201


def test_rotated_token_replaces_the_old_one(api, device) -> None:
    response = api.admin("POST", f"/api/v1/admin/devices/{device['device_id']}/token", json={})
    assert response.status_code == 200
    new = response.json()["token"]
    assert new != device["token"]
    assert api.call("POST", UPLOAD, token=device["token"], json=announcement()).status_code == 401
    assert api.call("POST", UPLOAD, token=new, json=announcement()).status_code == 201


def test_unknown_device_is_404(api) -> None:
    response = api.admin(
        "PATCH", f"/api/v1/admin/devices/{uuid.uuid4()}", json={"is_enabled": False}
    )
    assert response.status_code == 404
    assert api.admin("GET", "/api/v1/admin/devices/../../etc").status_code in (400, 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"chunk_id": "abc"}, "chunk_id"),
        ({"sha256": "xyz"}, "sha256"),
        ({"size_bytes": 10**12}, "size_bytes"),
        ({"size_bytes": -1}, "size_bytes"),
        ({"duration_sec": 0}, "duration_sec"),
        ({"duration_sec": 3600}, "duration_sec"),
        ({"started_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, "started_at"),
        ({"started_at": "2026-11-25T08:00:00"}, "started_at"),
        ({"started_at": "1970-01-01T00:00:00Z"}, "started_at"),
        ({"codec": "mp3"}, "codec"),
        ({"sample_rate": 1}, "sample_rate"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_announcement_is_400_naming_the_field(api, device, change, field) -> None:
    response = api.call("POST", UPLOAD, token=device["token"], json=announcement(**change))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.json()["field"] == field


def test_malformed_and_oversized_bodies(api, device) -> None:
    response = api.call("POST", UPLOAD, token=device["token"], data=b"{not json")
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]
    response = api.call("POST", UPLOAD, token=device["token"], data=b"[" + b"1," * 100_000 + b"1]")
    assert response.status_code == 413
    assert api.call("GET", "/no/such/path").status_code == 404
    assert api.call("DELETE", "/health").status_code == 405


def test_chunk_id_of_another_device_is_refused_without_details(api, device) -> None:
    other = api.register()
    body = announcement()
    first = api.call("POST", UPLOAD, token=device["token"], json=body)
    assert first.status_code == 201
    stolen = api.call("POST", UPLOAD, token=other["token"], json=body)
    assert stolen.status_code == 409
    assert device["device_id"] not in stolen.text
    assert first.json()["object_name"] not in stolen.text


def test_reannouncing_with_other_facts_is_a_conflict(api, device) -> None:
    body = announcement()
    assert api.call("POST", UPLOAD, token=device["token"], json=body).status_code == 201
    again = api.call("POST", UPLOAD, token=device["token"], json=body)
    assert again.status_code == 200
    assert again.json()["upload"]["url"]  # a fresh URL while nothing is uploaded
    changed = api.call("POST", UPLOAD, token=device["token"], json={**body, "size_bytes": 999})
    assert changed.status_code == 409
    assert changed.json()["field"] == "size_bytes"


def test_heartbeat_stores_the_health_report(api, device, engine) -> None:
    report = {"recording": True, "queue_files": 3, "disk_free_gb": 12.5}
    response = api.call("POST", "/api/v1/devices/heartbeat", token=device["token"], json=report)
    assert response.status_code == 200
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT last_health, last_seen_at FROM devices WHERE device_id = :d"),
            {"d": device["device_id"]},
        ).one()
    assert row.last_health == report
    assert row.last_seen_at is not None
