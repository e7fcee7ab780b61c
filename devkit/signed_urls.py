"""Check a PUT against a V4 signed URL the way Cloud Storage does, with the public key.

fake-gcs-server accepts any PUT to a signed URL: it checks neither the signature nor the
signed headers. This module re-computes the V4 canonical request of the request actually
made (method, object path, query, signed headers) and verifies the signature against the
signing key's public half, then applies the signed headers' conditions (exact size, no
overwrite). Tests use it to prove that a URL reused for another object, another body size
or after expiry is refused by GCS's rules; fake-gcs-server itself is not changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from salescontrol.errors import Forbidden

# Headers a signed chunk upload must sign: without them a URL could overwrite or resize.
REQUIRED_SIGNED = (
    "content-type",
    "host",
    "x-goog-content-length-range",
    "x-goog-if-generation-match",
)


class SignatureRefused(Forbidden):
    """Cloud Storage would answer 403 (or 400/412 for a broken condition)."""


@dataclass(frozen=True)
class PutRequest:
    url: str
    headers: dict[str, str]
    body_size: int
    method: str = "PUT"


def public_key(key_file: Path | str) -> rsa.RSAPublicKey:
    """The public half of a service-account JSON key (the local signing key)."""
    info = json.loads(Path(key_file).read_text())
    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key()


def check(request: PutRequest, key: rsa.RSAPublicKey, now: datetime | None = None) -> None:
    """Raise SignatureRefused naming why GCS would refuse `request`; None if it would not."""
    parts = urlsplit(request.url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = query.pop("X-Goog-Signature", "")
    signed = query.get("X-Goog-SignedHeaders", "").split(";")
    missing = [h for h in REQUIRED_SIGNED if h not in signed]
    if missing:
        raise SignatureRefused(f"the URL does not sign {', '.join(missing)}")
    sent = {k.lower().strip(): " ".join(v.split()) for k, v in request.headers.items()}
    sent.setdefault("host", parts.netloc)
    absent = [h for h in signed if h not in sent]
    if absent:
        raise SignatureRefused(f"signed headers not sent: {', '.join(absent)}")
    _verify(request.method, parts.path, query, signed, sent, signature, key)
    issued = datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) > issued + timedelta(seconds=int(query["X-Goog-Expires"])):
        raise SignatureRefused("the signed URL has expired")
    low, _, high = sent["x-goog-content-length-range"].partition(",")
    if not int(low) <= request.body_size <= int(high):
        raise SignatureRefused(
            f"body of {request.body_size} bytes is outside the signed range {low}-{high}"
        )


def _verify(
    method: str,
    path: str,
    query: dict[str, str],
    signed: list[str],
    sent: dict[str, str],
    signature: str,
    key: rsa.RSAPublicKey,
) -> None:
    canonical_query = "&".join(
        sorted(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in query.items())
    )
    canonical_headers = "".join(f"{h}:{sent[h]}\n" for h in signed)
    canonical = "\n".join(
        [method, path, canonical_query, canonical_headers, ";".join(signed), "UNSIGNED-PAYLOAD"]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            query["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    try:
        key.verify(bytes.fromhex(signature), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise SignatureRefused(
            "signature does not match this request (another object, method or header value)"
        ) from None
