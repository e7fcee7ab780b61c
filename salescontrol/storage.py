"""Cloud Storage access: one client per process, object names, signed upload URLs.

Signing has two paths. Locally (and anywhere a key file is configured) the URL is signed
with the private key in SIGNING_KEY_FILE. On Cloud Functions there is no key file: the
runtime service account signs through the IAM signBlob API (it needs
roles/iam.serviceAccountTokenCreator on itself).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import google.auth
from google.api_core import exceptions as gexc
from google.auth.transport.requests import Request
from google.cloud import storage
from google.oauth2 import service_account

from salescontrol.config import settings
from salescontrol.errors import TransientError


@functools.cache
def client() -> storage.Client:
    # With STORAGE_EMULATOR_HOST set the library talks to fake-gcs-server anonymously.
    return storage.Client(project=settings().google_cloud_project)


def bucket() -> storage.Bucket:
    return client().bucket(settings().audio_bucket)


@dataclass(frozen=True)
class SignedUpload:
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


@functools.cache
def _key_credentials(path: str) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_file(path)


def _signing_kwargs() -> dict:
    """Credentials for generate_signed_url, plus fake-gcs-server's endpoint locally."""
    emulator = settings().storage_emulator_host
    endpoint = {"api_access_endpoint": emulator.rstrip("/")} if emulator else {}
    key_file = settings().signing_key_file
    if key_file:
        return {"credentials": _key_credentials(key_file), **endpoint}
    credentials, _ = google.auth.default()
    credentials.refresh(Request())
    return {
        "service_account_email": credentials.service_account_email,
        "access_token": credentials.token,
        **endpoint,
    }


def signed_put_url(object_name: str, content_type: str, size_bytes: int) -> SignedUpload:
    """A V4 URL to PUT exactly `size_bytes` of `content_type` to a new object.

    The signed headers make real GCS refuse an overwrite (generation must be 0) and any
    other body size; the client must send them as returned.
    """
    ttl = timedelta(seconds=settings().upload_url_ttl_sec)
    headers = {
        "Content-Type": content_type,
        "x-goog-if-generation-match": "0",
        "x-goog-content-length-range": f"{size_bytes},{size_bytes}",
    }
    kwargs = _signing_kwargs()
    try:
        url = (
            bucket()
            .blob(object_name)
            .generate_signed_url(
                version="v4",
                expiration=ttl,
                method="PUT",
                content_type=content_type,
                headers={k: v for k, v in headers.items() if k != "Content-Type"},
                **kwargs,
            )
        )
    except gexc.GoogleAPIError as exc:
        raise TransientError(f"signing the upload URL failed: {exc}") from exc
    return SignedUpload(url, "PUT", headers, datetime.now(UTC) + ttl)


def signed_get_url(object_name: str, ttl_sec: int | None = None) -> str:
    """A short-lived V4 URL to GET one object (the dashboard's audio player)."""
    ttl = timedelta(seconds=ttl_sec or settings().audio_url_ttl_sec)
    kwargs = _signing_kwargs()
    try:
        return (
            bucket()
            .blob(object_name)
            .generate_signed_url(version="v4", expiration=ttl, method="GET", **kwargs)
        )
    except gexc.GoogleAPIError as exc:
        raise TransientError(f"signing the download URL failed: {exc}") from exc


def object_exists(object_name: str) -> bool:
    try:
        return bucket().blob(object_name).exists()
    except gexc.GoogleAPIError as exc:
        raise TransientError(
            f"checking gs://{settings().audio_bucket}/{object_name}: {exc}"
        ) from exc
