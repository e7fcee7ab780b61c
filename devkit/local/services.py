"""The emulators and the Python processes of the local stack, one small class each.

A service knows its program and environment (`launch`), its port, and how to tell it
serves: `ready` when the stack starts, `serving` after a restart (the port accepts, which
is what the soak run's recovery time measures).
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path

from devkit.local.net import http_ok, port_open
from devkit.local.packaging import FUNCTION_ENV, IMAGE_ENV
from devkit.local.supervisor import Launch, StackError
from devkit.paths import FUNCTIONS_DIR, REPO_ROOT
from salescontrol.topology import Notification


class Service(ABC):
    """One child process of the stack, listening on 127.0.0.1:`port`."""

    name: str
    port: int

    @abstractmethod
    def launch(self) -> Launch:
        """How the supervisor starts it."""

    def ready(self) -> bool:
        """Whether it serves, as the start waits for it."""
        return port_open(self.port)

    def serving(self) -> bool:
        """Whether it is back after a restart."""
        return port_open(self.port)

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"


class PubSubEmulator(Service):
    """gcloud's Pub/Sub emulator (a Java program)."""

    name = "pubsub"

    def __init__(self, java: str, script: str, port: int) -> None:
        self.java, self.script, self.port = java, script, port

    @property
    def host(self) -> str:
        """Its address as PUBSUB_EMULATOR_HOST spells it."""
        return f"127.0.0.1:{self.port}"

    def launch(self) -> Launch:
        """The emulator script, with JAVA_HOME pointing at the java found."""
        java_home = str(Path(os.path.realpath(self.java)).parents[1])
        argv = [self.script, "--host=127.0.0.1", f"--port={self.port}"]
        return Launch(self.name, argv, env={"JAVA_HOME": java_home})

    def ready(self) -> bool:
        """Whether its HTTP root answers."""
        return http_ok(self.url + "/")


_FAKE_GCS_EVENTS = {
    "OBJECT_FINALIZE": "finalize",
    "OBJECT_DELETE": "delete",
    "OBJECT_METADATA_UPDATE": "metadataUpdate",
}


class FakeGcs(Service):
    """fake-gcs-server on a directory, publishing the bucket notification to Pub/Sub."""

    name = "gcs"

    def __init__(
        self,
        binary: str,
        port: int,
        root: Path,
        project: str,
        bucket: str,
        notifications: tuple[Notification, ...],
        pubsub_host: str,
    ) -> None:
        self.binary, self.port, self.root = binary, port, root
        self.project, self.bucket = project, bucket
        self.notifications, self.pubsub_host = notifications, pubsub_host

    def launch(self) -> Launch:
        """The server with the notification flags of topology.yaml's one notification."""
        if len(self.notifications) != 1:
            raise StackError("fake-gcs-server can publish one bucket notification only")
        note = self.notifications[0]
        argv = [
            self.binary,
            *("-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port)),
            # Without -public-host a PUT to a signed URL answers 404.
            *("-public-host", f"127.0.0.1:{self.port}", "-external-url", self.url),
            *("-backend", "filesystem", "-filesystem-root", str(self.root)),
            *("-event.pubsub-project-id", self.project, "-event.pubsub-topic", note.topic),
            *("-event.object-prefix", note.object_prefix, "-event.bucket", self.bucket),
            *("-event.list", ",".join(_FAKE_GCS_EVENTS[e] for e in note.event_types)),
        ]
        return Launch(self.name, argv, env={"PUBSUB_EMULATOR_HOST": self.pubsub_host})

    def ready(self) -> bool:
        """Whether its JSON API lists buckets."""
        return http_ok(self.url + "/storage/v1/b")


def python_env(stack_env: dict[str, str]) -> dict[str, str]:
    """`stack_env` for a Python child: this checkout importable, output unbuffered."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**stack_env, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


class Function(Service):
    """One function of topology.yaml under functions-framework: from this checkout, or
    packaged (`python` of its own venv, `source` its archive's files)."""

    def __init__(
        self,
        name: str,
        port: int,
        stack_env: dict[str, str],
        python: Path | None = None,
        source: Path | None = None,
    ) -> None:
        self.name, self.port, self.stack_env = name, port, stack_env
        self.python, self.source = python, source

    def launch(self) -> Launch:
        """functions-framework serving functions/<name>/main.py (or the archive's)."""
        source = (self.source or FUNCTIONS_DIR / self.name) / "main.py"
        if not source.exists():
            raise StackError(f"function {self.name} of topology.yaml has no source at {source}")
        argv = [
            *(str(self.python or sys.executable), "-m", "functions_framework"),
            *("--target", self.name, "--source", str(source)),
            *("--host", "127.0.0.1", "--port", str(self.port)),
        ]
        if self.python is None:
            return Launch(self.name, argv, env=python_env(self.stack_env))
        # As Cloud Functions runs it: the archive's folder, one request at a time, the
        # pool Terraform gives a function instance.
        env = {**self.stack_env, "PYTHONUNBUFFERED": "1", **FUNCTION_ENV}
        return Launch(self.name, argv, env=env, cwd=self.source, inherit_env=False)


class AsrWorker(Service):
    """The ASR worker (`python -m asr_service`), its /health on `port`; from this
    checkout, or packaged (`python` of its own venv, `source` what its image copies)."""

    name = "asr"

    def __init__(
        self,
        port: int,
        stack_env: dict[str, str],
        python: Path | None = None,
        source: Path | None = None,
    ) -> None:
        self.port, self.stack_env = port, stack_env
        self.python, self.source = python, source

    def launch(self) -> Launch:
        """The worker with the stack's settings."""
        # CPU, int8 and the offline base model unless the environment says otherwise.
        argv = [str(self.python or sys.executable), "-m", "asr_service"]
        if self.python is None:
            env = {**python_env(self.stack_env), "ASR_HEALTH_PORT": str(self.port)}
            return Launch(self.name, argv, env=env)
        env = {
            **self.stack_env,
            "PYTHONUNBUFFERED": "1",
            "ASR_HEALTH_PORT": str(self.port),
            **IMAGE_ENV["asr_service"],
        }
        return Launch(self.name, argv, env=env, cwd=self.source, inherit_env=False)

    def ready(self) -> bool:
        """Whether /health answers 200 (the models are loaded and it pulls)."""
        return http_ok(self.url + "/health")
