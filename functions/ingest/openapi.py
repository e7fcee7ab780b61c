"""The OpenAPI 3 document of the ingest API, built from its routes and pydantic models.

Paths and methods come from the URL map, request and error bodies from the models of
ingest_schemas: nothing here repeats a field, so the document cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic
from analytics_out import AnalyticsQuery
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
from receipts_in import Receipt
from werkzeug.routing import Map

ADMIN, DEVICE, RECEIPTS = "adminToken", "deviceToken", "receiptsToken"
ADMIN_OR_POINT = (ADMIN, RECEIPTS)

_ERRORS = {
    400: "invalid request: the body or an id is malformed (`field` names it)",
    401: "missing or unknown token",
    403: "wrong admin token, the device is disabled, or another point's data",
    404: "no such device, point, dialogue or erasure, or no such path",
    409: "conflicts with what is stored (an id reused with other facts)",
    413: "request body larger than MAX_REQUEST_BYTES",
    429: "too many requests from this device; see Retry-After",
    503: "temporarily unavailable (database, signing); retry later",
}


@dataclass(frozen=True)
class Operation:
    summary: str
    auth: str | tuple[str, ...] | None = None  # a tuple: any one of them
    body: type[pydantic.BaseModel] | None = None
    ok: int = 200
    errors: tuple[int, ...] = ()
    query: type[pydantic.BaseModel] | None = None  # the query string's parameters


_AUTH_ERRORS = (401, 403)
OPERATIONS: dict[str, Operation] = {
    "health": Operation("Liveness"),
    "openapi": Operation("This document"),
    "register_device": Operation(
        "Register a device (a token is generated and returned once unless given)",
        ADMIN,
        DeviceRegistration,
        201,
        (400, *_AUTH_ERRORS, 409, 413),
    ),
    "list_devices": Operation("List devices", ADMIN, errors=_AUTH_ERRORS),
    "get_device": Operation("One device", ADMIN, errors=(400, *_AUTH_ERRORS, 404)),
    "update_device": Operation(
        "Enable or disable a device", ADMIN, DeviceUpdate, 200, (400, *_AUTH_ERRORS, 404, 413)
    ),
    "rotate_token": Operation(
        "Rotate a device's token", ADMIN, TokenRotation, 200, (400, *_AUTH_ERRORS, 404, 409, 413)
    ),
    "upload_url": Operation(
        "Announce a chunk; get a V4 signed PUT URL, or already_uploaded: true",
        DEVICE,
        ChunkAnnouncement,
        201,
        (400, *_AUTH_ERRORS, 409, 413, 429),
    ),
    "heartbeat": Operation(
        "Report the device's health", DEVICE, Heartbeat, 200, (400, 401, 403, 413, 429)
    ),
    "chunk_status": Operation(
        "What to do with each uploaded chunk: wait, delete (verified), resend or give_up",
        DEVICE,
        ChunkStatusQuery,
        200,
        (400, *_AUTH_ERRORS, 413, 429),
    ),
    "request_erasure": Operation(
        "Erase a dialogue, a device's time range or everything before a date (carried "
        "out by the sweeper; 200 when it was asked for already)",
        ADMIN,
        ErasureRequest,
        202,
        (400, *_AUTH_ERRORS, 404, 409, 413),
    ),
    "list_erasures": Operation("The erasure log, newest first", ADMIN, errors=_AUTH_ERRORS),
    "get_erasure": Operation(
        "One erasure: its status and counts", ADMIN, errors=(400, *_AUTH_ERRORS, 404)
    ),
    "rotate_receipts_token": Operation(
        "Create or rotate a point's receipts token (returned once unless given)",
        ADMIN,
        TokenRotation,
        200,
        (400, *_AUTH_ERRORS, 404, 409, 413),
    ),
    "post_receipts": Operation(
        "Store fiscal receipts of the point: counts, and each refused one with its field",
        RECEIPTS,
        ReceiptBatch,
        200,
        (400, 401, 413),
    ),
    "analytics_daily": Operation(
        "Daily figures per day, register and cashier (money in kopecks): every point for "
        "the admin, its own for a point's token",
        ADMIN_OR_POINT,
        query=AnalyticsQuery,
        errors=(400, 401, 403),
    ),
}


def document(urls: Map) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the rules of `urls`."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for rule in urls.iter_rules():
        op = OPERATIONS[rule.endpoint]
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, op, schemas)
    for model in (ErrorBody, Receipt):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    # a batch is read as a list of anything, each receipt checked on its own
    schemas["ReceiptBatch"]["properties"]["receipts"]["items"] = {
        "$ref": _REF.format(model="Receipt")
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "SalesControl ingest API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                ADMIN: {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"},
                DEVICE: {"type": "http", "scheme": "bearer", "description": "the device token"},
                RECEIPTS: {"type": "http", "scheme": "bearer", "description": "a point's token"},
            },
        },
    }


_REF = "#/components/schemas/{model}"


def _operation(rule: Any, op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": rule.endpoint,
        "summary": op.summary,
        "security": [{a: []} for a in _auths(op.auth)],
        "parameters": [
            {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
            for arg in sorted(rule.arguments)
        ]
        + _query_parameters(op.query),
        "responses": {str(op.ok): {"description": "success", "content": _json({"type": "object"})}},
    }
    if op.body is not None:
        schema = op.body.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[op.body.__name__] = schema
        result["requestBody"] = {
            "required": True,
            "content": _json({"$ref": _REF.format(model=op.body.__name__)}),
        }
    for status in op.errors:
        result["responses"][str(status)] = {
            "description": _ERRORS[status],
            "content": _json({"$ref": _REF.format(model="ErrorBody")}),
        }
        if status == 429:
            result["responses"]["429"]["headers"] = {
                "Retry-After": {"description": "seconds", "schema": {"type": "integer"}}
            }
    return result


def _auths(auth: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return () if auth is None else (auth,) if isinstance(auth, str) else auth


def _query_parameters(model: type[pydantic.BaseModel] | None) -> list[dict[str, Any]]:
    """A query model's fields as optional query parameters (by alias; a query string
    has no null, so an optional field's schema is its non-null one)."""
    if model is None:
        return []
    schema = model.model_json_schema(by_alias=True)
    parameters = []
    for name, prop in schema["properties"].items():
        variants = [v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"]
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", []),
                "description": prop.get("description", ""),
                "schema": {k: v for k, v in variants[0].items() if k != "title"},
            }
        )
    return parameters


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
