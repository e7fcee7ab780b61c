"""Ingest: the HTTP function devices and admins talk to.

    GET    /health                               liveness, {"status": "healthy"}
    POST   /api/v1/admin/devices                 register a device (admin)
    GET    /api/v1/admin/devices                 list devices (admin)
    GET    /api/v1/admin/devices/<id>            one device (admin)
    PATCH  /api/v1/admin/devices/<id>            enable / disable (admin)
    POST   /api/v1/admin/devices/<id>/token      rotate the token (admin)
    POST   /api/v1/admin/points/<id>/receipts-token  create/rotate a point's receipts token (admin)
    POST   /api/v1/admin/erasures                erase a dialogue, a device's range, or
                                                 everything before a date (admin; the
                                                 sweeper carries it out)
    GET    /api/v1/admin/erasures                the erasure log (admin)
    GET    /api/v1/admin/erasures/<id>           one erasure and its counts (admin)
    POST   /api/v1/chunks/upload-url             announce a chunk, get a signed PUT URL (device)
    POST   /api/v1/chunks/status                 vad's verdict on uploaded chunks (device)
    POST   /api/v1/devices/heartbeat             health report (device)
    POST   /api/v1/receipts                      fiscal receipts of the point (receipts token)
    GET    /api/v1/analytics/daily               daily figures (admin, or a point's token)
    GET    /openapi.json                         the OpenAPI 3 document of all of this

Errors are JSON: {"error": code, "message": text, "field": name-or-null}.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import analytics_out
import functions_framework
import pydantic
import receipt_tokens
import receipts_in
import sqlalchemy.exc
from flask import Request
from flask import Response as HttpResponse
from ingest_schemas import (
    ChunkAnnouncement,
    ChunkStatusQuery,
    DeviceRegistration,
    DeviceUpdate,
    ErasureRequest,
    ErrorBody,
    Heartbeat,
    ReceiptBatch,
    TokenRotation,
)
from openapi import document
from sqlalchemy.engine import Row
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from salescontrol import chunks, devices, erasure, lemmas, ratelimit, receipts, storage
from salescontrol.chunks import ChunkStatus
from salescontrol.config import settings
from salescontrol.db import transaction
from salescontrol.errors import (
    BadInput,
    ConfigError,
    Conflict,
    Forbidden,
    NotFound,
    TransientError,
    Unauthorized,
)
from salescontrol.ids import parse_id
from salescontrol.log import setup_logging

setup_logging(settings().log_level, settings().log_format)
log = logging.getLogger("ingest")

Response = tuple[dict[str, Any] | list[Any], int]

URLS = Map(
    [
        Rule("/health", methods=["GET"], endpoint="health"),
        Rule("/api/v1/admin/devices", methods=["POST"], endpoint="register_device"),
        Rule("/api/v1/admin/devices", methods=["GET"], endpoint="list_devices"),
        Rule("/api/v1/admin/devices/<device_id>", methods=["GET"], endpoint="get_device"),
        Rule("/api/v1/admin/devices/<device_id>", methods=["PATCH"], endpoint="update_device"),
        Rule("/api/v1/admin/devices/<device_id>/token", methods=["POST"], endpoint="rotate_token"),
        Rule("/api/v1/admin/erasures", methods=["POST"], endpoint="request_erasure"),
        Rule("/api/v1/admin/erasures", methods=["GET"], endpoint="list_erasures"),
        Rule("/api/v1/admin/erasures/<erasure_id>", methods=["GET"], endpoint="get_erasure"),
        Rule("/api/v1/chunks/upload-url", methods=["POST"], endpoint="upload_url"),
        Rule("/api/v1/chunks/status", methods=["POST"], endpoint="chunk_status"),
        Rule("/api/v1/devices/heartbeat", methods=["POST"], endpoint="heartbeat"),
        Rule(
            "/api/v1/admin/points/<point_id>/receipts-token",
            methods=["POST"],
            endpoint="rotate_receipts_token",
        ),
        Rule("/api/v1/receipts", methods=["POST"], endpoint="post_receipts"),
        Rule("/api/v1/analytics/daily", methods=["GET"], endpoint="analytics_daily"),
        Rule("/openapi.json", methods=["GET"], endpoint="openapi"),
    ],
    strict_slashes=False,
)

_STATUS = {Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409}


def _error(status: int, code: str, message: str, field: str | None = None) -> Response:
    return ErrorBody(error=code, message=message, field=field).model_dump(), status


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _body(request: Request, model: type[pydantic.BaseModel]) -> Any:
    if request.content_length and request.content_length > settings().max_request_bytes:
        raise _TooLarge()
    raw = request.get_data(cache=False)
    if len(raw) > settings().max_request_bytes:
        raise _TooLarge()
    try:
        return model.model_validate_json(raw or b"{}")
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"]
        if first["type"] == "json_invalid":
            raise BadInput(f"body is not valid JSON: {message}") from None
        raise BadInput(f"{field}: {message}" if field else message, field) from None


class _TooLarge(Exception):
    pass


def _require_admin(request: Request) -> None:
    expected = settings().require("admin_token")
    given = _bearer(request)
    if not given:
        raise Unauthorized("missing admin token (Authorization: Bearer <ADMIN_TOKEN>)")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("wrong admin token")


# --- endpoints ------------------------------------------------------------------------


def health(request: Request) -> Response:
    return {"status": "healthy"}, 200


def openapi(request: Request) -> Response:
    return document(URLS), 200


def register_device(request: Request) -> Response:
    _require_admin(request)
    body: DeviceRegistration = _body(request, DeviceRegistration)
    with transaction() as conn:
        device, generated = devices.register(
            conn,
            body.device_id,
            body.point_id,
            body.register_id,
            token=body.token,
            is_enabled=body.is_enabled,
            point_name=body.point_name,
            register_name=body.register_name,
        )
        if body.kkt_reg_id:
            device = _set_kkt(conn, device.device_id, body.kkt_reg_id)
    log.info("device registered", extra={"device_id": str(device.device_id)})
    result = device.public()
    if generated:
        result["token"] = generated  # shown this once; only its hash is stored
    return result, 201


def list_devices(request: Request) -> Response:
    _require_admin(request)
    with transaction() as conn:
        return {"devices": [d.public() for d in devices.list_devices(conn)]}, 200


def get_device(request: Request, device_id: str) -> Response:
    _require_admin(request)
    with transaction() as conn:
        return devices.get(conn, parse_id(device_id, "device_id")).public(), 200


def update_device(request: Request, device_id: str) -> Response:
    _require_admin(request)
    body: DeviceUpdate = _body(request, DeviceUpdate)
    did = parse_id(device_id, "device_id")
    with transaction() as conn:
        device = devices.get(conn, did)
        if body.is_enabled is not None:
            device = devices.set_enabled(conn, did, body.is_enabled)
        if "kkt_reg_id" in body.model_fields_set:
            device = _set_kkt(conn, did, body.kkt_reg_id)
    log.info("device updated", extra={"device_id": device_id, **body.model_dump()})
    return device.public(), 200


def _set_kkt(conn: Any, device_id: Any, kkt_reg_id: str | None) -> devices.Device:
    """Set the register's ККТ and give it the receipts of that ККТ stored unassigned."""
    device = devices.set_kkt(conn, device_id, kkt_reg_id)
    if kkt_reg_id:
        receipts.adopt(conn, device.register_id)
    return device


def rotate_token(request: Request, device_id: str) -> Response:
    _require_admin(request)
    body: TokenRotation = _body(request, TokenRotation)
    with transaction() as conn:
        generated = devices.rotate_token(conn, parse_id(device_id, "device_id"), body.token)
    log.info("device token rotated", extra={"device_id": device_id})
    result: dict[str, Any] = {"device_id": device_id, "rotated": True}
    if generated:
        result["token"] = generated
    return result, 200


def request_erasure(request: Request) -> Response:
    _require_admin(request)
    body: ErasureRequest = _body(request, ErasureRequest)
    with transaction() as conn:
        job = erasure.request(conn, body.scope(), body.requested_by, body.reason, body.erasure_id)
    return job, 202 if job.pop("new") else 200


def list_erasures(request: Request) -> Response:
    _require_admin(request)
    with transaction() as conn:
        return {"erasures": erasure.latest(conn)}, 200


def get_erasure(request: Request, erasure_id: str) -> Response:
    _require_admin(request)
    with transaction() as conn:
        return erasure.latest(conn, parse_id(erasure_id, "erasure_id"))[0], 200


def _device(request: Request, table: str, rate_per_min: float, burst: int) -> devices.Device:
    """The calling device, once it has a token of its rate limit."""
    with transaction() as conn:
        device = devices.authenticate(conn, _bearer(request))
        ratelimit.take(conn, device.device_id, rate_per_min, burst, table)
    return device


def upload_url(request: Request) -> Response:
    limits = settings()
    device = _device(
        request, ratelimit.UPLOADS, limits.upload_rate_per_min, limits.upload_rate_burst
    )
    body: ChunkAnnouncement = _body(request, ChunkAnnouncement)
    ann = chunks.Announcement(
        chunk_id=body.chunk_id,
        device_id=device.device_id,
        started_at=body.started_at,
        duration_sec=body.duration_sec,
        size_bytes=body.size_bytes,
        sha256=body.sha256,
        codec=body.codec,
        sample_rate=body.sample_rate,
    )
    ids = {"device_id": str(device.device_id), "chunk_id": str(ann.chunk_id)}
    with transaction() as conn:
        chunk = chunks.announce(conn, ann, limits.max_attempts)
    status = chunk.status
    if (
        status == ChunkStatus.AWAITING_UPLOAD
        and not chunk.created
        and storage.object_exists(chunk.object_name)
    ):
        with transaction() as conn:
            status = chunks.mark_uploaded(conn, ann.chunk_id)
    result: dict[str, Any] = {
        "chunk_id": str(ann.chunk_id),
        "object_name": chunk.object_name,
        "status": status,
    }
    if status != ChunkStatus.AWAITING_UPLOAD:
        log.info("chunk already uploaded", extra={**ids, "status": status})
        with transaction() as conn:
            (row,) = chunks.of_device(conn, device.device_id, [ann.chunk_id])
        action = device_action(row, limits.max_attempts)
        return {**result, "already_uploaded": True, "action": action}, 200
    signed = storage.signed_put_url(chunk.object_name, ann.content_type, ann.size_bytes)
    log.info("upload url issued", extra=ids)
    result["already_uploaded"] = False
    result["upload"] = {
        "url": signed.url,
        "method": signed.method,
        "headers": signed.headers,
        "expires_at": signed.expires_at.isoformat(),
    }
    return result, 201 if chunk.created else 200


# What a device does with its copy of a chunk (the answer to announce and status).
WAIT, DELETE, RESEND, GIVE_UP = "wait", "delete", "resend", "give_up"


def device_action(row: Row, max_attempts: int) -> str:
    """`wait` for vad's verdict, `delete` (the server has verified the bytes or needs
    them no more), `resend` (it does not have them intact) or `give_up` (resent too often)."""
    if row.erased_at is not None:
        return DELETE
    if row.status == ChunkStatus.AWAITING_UPLOAD:
        return RESEND
    if row.status in (ChunkStatus.UPLOADED, ChunkStatus.PROCESSING):
        return WAIT
    if chunks.corrupted(row):
        return RESEND if row.attempts < max_attempts else GIVE_UP
    return DELETE


def chunk_status(request: Request) -> Response:
    """What the device does with its copy of each chunk (chunks.device_action)."""
    limits = settings()
    device = _device(
        request, ratelimit.UPLOADS, limits.upload_rate_per_min, limits.upload_rate_burst
    )
    body: ChunkStatusQuery = _body(request, ChunkStatusQuery)
    with transaction() as conn:
        rows = {r.chunk_id: r for r in chunks.of_device(conn, device.device_id, body.chunk_ids)}
    answer = []
    for chunk_id in dict.fromkeys(body.chunk_ids):
        row = rows.get(chunk_id)
        if row is None:  # unknown here (or another device's): announce it again
            answer.append({"chunk_id": str(chunk_id), "status": None, "action": RESEND})
            continue
        action = device_action(row, limits.max_attempts)
        answer.append(
            {
                "chunk_id": str(chunk_id),
                "status": row.status,
                "verified": row.verified,
                "action": action,
                "error": row.error if action == GIVE_UP else None,
            }
        )
    return {"chunks": answer}, 200


def heartbeat(request: Request) -> Response:
    limits = settings()
    device = _device(
        request, ratelimit.HEARTBEATS, limits.heartbeat_rate_per_min, limits.heartbeat_rate_burst
    )
    body: Heartbeat = _body(request, Heartbeat)
    with transaction() as conn:
        devices.record_health(conn, device.device_id, body.report())
    return {"status": "ok", "device_id": str(device.device_id)}, 200


def rotate_receipts_token(request: Request, point_id: str) -> Response:
    _require_admin(request)
    body: TokenRotation = _body(request, TokenRotation)
    with transaction() as conn:
        generated = receipt_tokens.rotate(conn, parse_id(point_id, "point_id"), body.token)
    log.info("receipts token rotated", extra={"point_id": point_id})
    result: dict[str, Any] = {"point_id": point_id, "rotated": True}
    if generated:
        result["token"] = generated  # shown this once; only its hash is stored
    return result, 200


def post_receipts(request: Request) -> Response:
    """Store the point's receipts: each refused on its own, the rest kept and matched."""
    with transaction() as conn:
        point_id = receipt_tokens.authenticate(conn, _bearer(request))
    body: ReceiptBatch = _body(request, ReceiptBatch)
    with transaction() as conn:
        outcome = receipts_in.ingest(conn, point_id, body.receipts, lemmas.terms)
    counts = {k: v for k, v in outcome.items() if k != "rejected"}
    log.info(
        "receipts",
        extra={"point_id": str(point_id), **counts, "rejected": len(outcome["rejected"])},
    )
    return outcome, 200


def analytics_daily(request: Request) -> Response:
    """The daily figures of a period: every point for the admin, its own for a point."""
    query = analytics_out.parse_query(request.args)
    with transaction() as conn:
        points = analytics_out.reach(conn, _bearer(request))
        return analytics_out.daily(conn, query, points), 200


ENDPOINTS: dict[str, Callable[..., Response]] = {
    name: globals()[name] for name in {rule.endpoint for rule in URLS.iter_rules()}
}


@functions_framework.http
def ingest(request: Request) -> HttpResponse:
    """Route a request; answer JSON (Russian names stay readable, not \\u-escaped)."""
    headers: dict[str, str] = {}
    try:
        body, status = _dispatch(request)
    except ratelimit.RateLimited as exc:
        body, status = _error(429, "rate_limited", str(exc))
        headers["Retry-After"] = str(exc.retry_after_sec)
    return HttpResponse(
        json.dumps(body, ensure_ascii=False, default=str),  # ids and times as text
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def _dispatch(request: Request) -> Response:
    """Run the matching endpoint and turn every failure into a JSON error."""
    try:
        endpoint, args = URLS.bind_to_environ(request.environ).match()
        return ENDPOINTS[endpoint](request, **args)
    except ratelimit.RateLimited:
        raise  # answered with its Retry-After header by ingest()
    except HTTPException as exc:
        message = exc.description or ""
        if exc.code in (404, 405):  # say what was asked (bounded: ids may be huge)
            message = f"no {request.method} route for {request.path[:200]!r}"
        return _error(exc.code or 500, exc.name.lower().replace(" ", "_"), message)
    except _TooLarge:
        limit = settings().max_request_bytes
        return _error(413, "too_large", f"request body is larger than {limit} bytes")
    except BadInput as exc:
        status = _STATUS.get(type(exc), 400)
        code = {400: "invalid_request"}.get(status, type(exc).__name__.lower())
        return _error(status, code, exc.reason, exc.field)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return _error(503, "not_configured", str(exc))
    except (TransientError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        log.warning("transient failure: %s", exc)
        return _error(503, "unavailable", "temporarily unavailable, retry later")
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(500, "internal", "internal error")
