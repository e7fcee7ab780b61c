"""The files of the local stack's working directory: logs/, the signing key, env.sh."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def prepare(workdir: Path) -> None:
    """Empty `workdir` (a stack starts from nothing) and create its logs/ folder."""
    if workdir.exists():
        shutil.rmtree(workdir)
    (workdir / "logs").mkdir(parents=True)


def write_signing_key(path: Path, project: str) -> None:
    """Write a fresh service-account key file, which the ingest function signs URLs with."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "local",
        "private_key": pem,
        "client_email": f"ingest@{project}.iam.gserviceaccount.com",
        "client_id": "0",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    path.chmod(0o600)


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Write `env` as `export` lines that a shell can source."""
    path.write_text("".join(f"export {k}={v}\n" for k, v in env.items()))
