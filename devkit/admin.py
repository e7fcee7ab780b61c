"""The ingest admin API from the dev kit and the tests: one client, one way to register."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests

from salescontrol.errors import SalesControlError

DEVICES = "/api/v1/admin/devices"
RECEIPTS = "/api/v1/receipts"


class AdminError(SalesControlError):
    """The admin API refused a call the dev kit needed."""


@dataclass(frozen=True)
class Device:
    """A registered device and its one-time token."""

    device_id: str
    point_id: str
    register_id: str
    token: str


def new_identity(**names: str) -> dict[str, str]:
    """A device body with fresh ids (point_name, register_name, ... as given)."""
    return {
        "device_id": str(uuid.uuid4()),
        "point_id": str(uuid.uuid4()),
        "register_id": str(uuid.uuid4()),
        **names,
    }


@dataclass
class AdminClient:
    """Calls the ingest function at `base` (its URL) with the admin or a device token."""

    base: str
    admin_token: str
    timeout: float = 30.0

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method, self.base + path, headers=headers, timeout=self.timeout, **kwargs
        )

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.call(method, path, token=self.admin_token, **kwargs)

    def register(self, **body: Any) -> dict[str, Any]:
        """Register a device (fresh ids unless given); the API's answer, token included."""
        body = {**new_identity(), **body}
        answer = self.admin("POST", DEVICES, json=body)
        if answer.status_code != 201:
            raise AdminError(f"registering a device failed: {answer.status_code} {answer.text}")
        return answer.json()

    def register_device(self, **body: Any) -> Device:
        """Register a device and return it as a typed record."""
        body = {**new_identity(), **body}
        answer = self.register(**body)
        return Device(body["device_id"], body["point_id"], body["register_id"], answer["token"])

    def receipts_token(self, point_id: str) -> str:
        """Create (or rotate) a point's receipts token; the new token."""
        answer = self.admin("POST", f"/api/v1/admin/points/{point_id}/receipts-token", json={})
        if answer.status_code != 200:
            raise AdminError(f"a receipts token failed: {answer.status_code} {answer.text}")
        return answer.json()["token"]

    def post_receipts(self, token: str, receipts: list[Any]) -> dict[str, Any]:
        """POST /api/v1/receipts with a point's token; the API's counts."""
        answer = self.call("POST", RECEIPTS, token=token, json={"receipts": receipts})
        if answer.status_code != 200:
            raise AdminError(f"posting receipts failed: {answer.status_code} {answer.text}")
        return answer.json()
