"""Run the whole cloud side on this machine, wired the way production is.

Postgres (throwaway cluster), the Pub/Sub emulator, fake-gcs-server publishing
OBJECT_FINALIZE notifications to the emulator, and every function of topology.yaml under
functions-framework behind its push subscription. Each child runs in its own process
group and gets SIGTERM if this process dies, so stopping the stack leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa

from devkit.local import provision
from devkit.local.prereqs import Programs, find_programs
from devkit.paths import FUNCTIONS_DIR, REPO_ROOT
from salescontrol import migrate, topology
from salescontrol.devices import new_token
from salescontrol.errors import PrerequisiteError, SalesControlError

DATABASE = "salescontrol"
START_TIMEOUT_SEC = 60.0


class StackError(SalesControlError):
    """A part of the local stack failed to start or died."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# PR_SET_PDEATHSIG: a child gets SIGTERM when the stack process dies, even by SIGKILL.
# Set by util-linux's setpriv just before it execs the program, not by a preexec_fn: with
# one, Python runs its at-fork hooks (gRPC's among them) in the child before exec, and in
# the soak run, whose process has gRPC threads, a restarted Postgres child aborted there
# (SIGABRT after a gRPC epoll error line in its log) in one of about 80 restarts.
_SETPRIV = shutil.which("setpriv")


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _dying_with_parent(argv: list[str]) -> list[str]:
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *argv] if _SETPRIV else argv


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log_path: Path
    stop_signal: int = signal.SIGTERM
    spawn: dict | None = None  # the arguments of _spawn, for restart()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class LocalStack:
    """Start with `start()` (or `with LocalStack(...)`), stop with `stop()`."""

    def __init__(
        self,
        workdir: Path,
        ingest_port: int = 8000,
        admin_token: str | None = None,
        project: str = "salescontrol-local",
        bucket: str = "salescontrol-audio",
        echo: Callable[[str], None] = print,
        asr: bool = True,
    ) -> None:
        self.workdir = workdir.resolve()
        self.project = project
        self.bucket = bucket
        self.admin_token = admin_token or new_token()
        self.echo = echo
        self.asr = asr  # the ASR worker loads a Whisper model: tests that need none skip it
        self.topology = topology.load()
        self.ports: dict[str, int] = {"ingest": ingest_port or free_port()}
        self.services: list[Service] = []
        self._pg_dir: Path | None = None
        self._sweeping = threading.Event()
        self._sweep_thread: threading.Thread | None = None

    # --- public -------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point a process at this stack."""
        return {
            "DATABASE_URL": (
                f"postgresql+pg8000://postgres@127.0.0.1:{self.ports['postgres']}/{DATABASE}"
            ),
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.ports['pubsub']}",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{self.ports['gcs']}",
            "GOOGLE_CLOUD_PROJECT": self.project,
            "AUDIO_BUCKET": self.bucket,
            "ADMIN_TOKEN": self.admin_token,
            "SIGNING_KEY_FILE": str(self.workdir / "signing-key.json"),
            "INGEST_URL": self.url("ingest"),
        }

    def url(self, function: str) -> str:
        return f"http://127.0.0.1:{self.ports[function]}"

    def start(self) -> None:
        started = time.monotonic()
        programs = find_programs()
        self._prepare_workdir()
        self._allocate_ports()
        self._write_signing_key()
        self._start_postgres(programs)
        self._start_pubsub(programs)
        self._wait("pubsub", lambda: _http_ok(f"http://127.0.0.1:{self.ports['pubsub']}/"))
        self._start_gcs(programs)
        self._wait("postgres", self._postgres_ready)
        self._create_database()
        self._wait("gcs", lambda: _http_ok(self.env["STORAGE_EMULATOR_HOST"] + "/storage/v1/b"))
        with _env(self.env):
            provision.create_bucket(self.project, self.bucket)
            provision.create_topics(self.project, self.topology)
        for function in self._functions():
            self._start_function(function)
        for function in self._functions():
            self._wait(function, lambda f=function: _port_open(self.ports[f]))
        with _env(self.env):
            provision.create_subscriptions(self.project, self.topology, self._push_endpoints())
        if self.asr:
            self._start_asr()
            self._wait("asr", lambda: _http_ok(self.url("asr") + "/health"))
        self._write_env_file()
        self._start_sweep_timer()
        self.echo(f"local stack is up in {time.monotonic() - started:.1f} s")

    def stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after 10 s) and remove throwaway data."""
        self._stop_sweep_timer()
        for service in reversed(self.services):
            _signal_group(service.proc, service.stop_signal)
        deadline = time.monotonic() + 10
        for service in reversed(self.services):
            try:
                service.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(service.proc, signal.SIGKILL)
                service.proc.wait()
        self.services.clear()
        if self._pg_dir:
            shutil.rmtree(self._pg_dir, ignore_errors=True)
            self._pg_dir = None

    def check_alive(self) -> None:
        """Raise StackError naming a child that exited, with the end of its log."""
        for service in self.services:
            code = service.proc.poll()
            if code is not None:
                raise StackError(
                    f"{service.name} exited with code {code}; last lines of "
                    f"{service.log_path}:\n{service.tail()}"
                )

    def restart(self, name: str, sig: int = signal.SIGKILL) -> float:
        """Kill one child with `sig` (its whole group), start it again, wait until it
        serves; return the seconds it was away. For fault injection (the soak run).

        Call it from a thread that outlives the stack (the main thread): the new child
        gets SIGTERM when the thread that spawned it ends (PR_SET_PDEATHSIG)."""
        service = next(s for s in self.services if s.name == name)
        started = time.monotonic()
        _signal_group(service.proc, sig)
        try:
            service.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _signal_group(service.proc, signal.SIGKILL)
            service.proc.wait()
        self.services.remove(service)
        # A killed group's last socket holder can outlive its leader by a moment; a port
        # still accepting then would pass for the new child's (a recovery of 0.0 s).
        port = self.ports.get(name)
        deadline = time.monotonic() + 10
        while port and _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._spawn(**(service.spawn or {}))
        ready = {"postgres": self._postgres_ready}.get(name, lambda: _port_open(self.ports[name]))
        self._wait(name, ready)
        return time.monotonic() - started

    def summary(self) -> str:
        lines = ["", "SalesControl local stack", ""]
        for function in self._functions():
            lines.append(f"  function {function:<10} {self.url(function)}")
        lines += [
            *([f"  asr worker          {self.url('asr')}/health"] if self.asr else []),
            f"  postgres            {self.env['DATABASE_URL']}",
            f"  pubsub emulator     {self.env['PUBSUB_EMULATOR_HOST']}",
            f"  fake-gcs-server     {self.env['STORAGE_EMULATOR_HOST']}  bucket {self.bucket}",
            f"  logs                {self.workdir / 'logs'}",
            "",
            f"Environment (also in {self.workdir / 'env.sh'}):",
        ]
        lines += [f"  export {k}={v}" for k, v in self.env.items()]
        return "\n".join(lines)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Path:
        """Run one more child (say the dashboard) on this stack; it stops with the stack."""
        self._spawn(name, argv, env={**self.env, "PYTHONUNBUFFERED": "1", **(env or {})})
        return self.workdir / "logs" / f"{name}.log"

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- steps --------------------------------------------------------------------

    def _functions(self) -> list[str]:
        return list(self.topology.functions)

    def _push_endpoints(self) -> dict[str, str]:
        return {
            sub: self.url(func.name) + "/"
            for sub in self.topology.subscriptions
            if (func := self.topology.push_target(sub)) is not None
        }

    def _prepare_workdir(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "logs").mkdir(parents=True)

    def _allocate_ports(self) -> None:
        for name in [
            "postgres",
            "pubsub",
            "gcs",
            *self._functions(),
            *(["asr"] if self.asr else []),
        ]:
            if name not in self.ports:
                self.ports[name] = free_port()
        for name, port in self.ports.items():
            if not _port_is_free(port):
                raise StackError(
                    f"port {port} for {name} is in use (is another stack running?); "
                    "choose another with --port"
                )

    def _write_signing_key(self) -> None:
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
            "project_id": self.project,
            "private_key_id": "local",
            "private_key": pem,
            "client_email": f"ingest@{self.project}.iam.gserviceaccount.com",
            "client_id": "0",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
        path = self.workdir / "signing-key.json"
        path.write_text(json.dumps(info))
        path.chmod(0o600)

    def _spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        log_path = self.workdir / "logs" / f"{name}.log"
        with open(log_path, "ab") as log_file:
            proc = subprocess.Popen(
                _dying_with_parent(argv),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=REPO_ROOT,
                start_new_session=True,
                preexec_fn=None if _SETPRIV else _die_with_parent,
                user=user,
            )
        spawn = {"name": name, "argv": argv, "env": env, "user": user, "stop_signal": stop_signal}
        self.services.append(Service(name, proc, log_path, stop_signal, spawn))

    def _start_postgres(self, programs: Programs) -> None:
        # Postgres refuses to run as root; the cluster lives outside the workdir so the
        # postgres user can reach it whatever the workdir's parents allow.
        as_root = os.geteuid() == 0
        user = "postgres" if as_root else None
        self._pg_dir = Path(tempfile.mkdtemp(prefix="salescontrol-pg-"))
        self._pg_dir.chmod(0o755)
        data = self._pg_dir / "data"
        data.mkdir()
        if as_root:
            shutil.chown(self._pg_dir, "postgres")
            shutil.chown(data, "postgres")
        init = subprocess.run(
            [
                str(programs.pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            user=user,
            cwd=self._pg_dir,
        )
        if init.returncode != 0:
            raise StackError(f"initdb failed:\n{init.stdout}{init.stderr}")
        self._spawn(
            "postgres",
            [
                str(programs.pg_bin / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.ports["postgres"]),
                "-k",
                str(self._pg_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            user=user,
            stop_signal=signal.SIGINT,  # "fast" shutdown: does not wait for clients
        )

    def _postgres_ready(self) -> bool:
        url = f"postgresql+pg8000://postgres@127.0.0.1:{self.ports['postgres']}/postgres"
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.DBAPIError:
            return False
        finally:
            engine.dispose()

    def _create_database(self) -> None:
        admin_url = f"postgresql+pg8000://postgres@127.0.0.1:{self.ports['postgres']}/postgres"
        admin = sa.create_engine(
            admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()
        engine = sa.create_engine(self.env["DATABASE_URL"], poolclass=sa.pool.NullPool)
        applied = migrate.migrate(engine)
        engine.dispose()
        self.echo(f"  migrations applied: {', '.join(applied) or 'none'}")

    def _start_pubsub(self, programs: Programs) -> None:
        java_home = str(Path(os.path.realpath(programs.java)).parents[1])
        self._spawn(
            "pubsub",
            [programs.pubsub_emulator, "--host=127.0.0.1", f"--port={self.ports['pubsub']}"],
            env={"JAVA_HOME": java_home},
        )

    def _start_gcs(self, programs: Programs) -> None:
        notes = self.topology.notifications
        if len(notes) != 1:
            raise StackError("fake-gcs-server can publish one bucket notification only")
        note = notes[0]
        port = self.ports["gcs"]
        self._spawn(
            "gcs",
            [
                programs.fake_gcs,
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(port),
                # Without -public-host a PUT to a signed URL answers 404.
                "-public-host",
                f"127.0.0.1:{port}",
                "-external-url",
                f"http://127.0.0.1:{port}",
                "-backend",
                "filesystem",
                "-filesystem-root",
                str(self.workdir / "gcs"),
                "-event.pubsub-project-id",
                self.project,
                "-event.pubsub-topic",
                note.topic,
                "-event.object-prefix",
                note.object_prefix,
                "-event.bucket",
                self.bucket,
                "-event.list",
                ",".join(_FAKE_GCS_EVENTS[e] for e in note.event_types),
            ],
            env={"PUBSUB_EMULATOR_HOST": self.env["PUBSUB_EMULATOR_HOST"]},
        )

    def _child_env(self) -> dict[str, str]:
        return {
            **self.env,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
            "PYTHONUNBUFFERED": "1",
        }

    def _start_asr(self) -> None:
        # CPU, int8 and the offline base model unless the environment says otherwise.
        env = {**self._child_env(), "ASR_HEALTH_PORT": str(self.ports["asr"])}
        self._spawn("asr", [sys.executable, "-m", "asr_service"], env=env)

    def _start_function(self, name: str) -> None:
        source = FUNCTIONS_DIR / name / "main.py"
        if not source.exists():
            raise StackError(f"function {name} of topology.yaml has no source at {source}")
        env = self._child_env()
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--target",
                name,
                "--source",
                str(source),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[name]),
            ],
            env=env,
        )

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        started = time.monotonic()
        while not ready():
            self.check_alive()
            if time.monotonic() - started > START_TIMEOUT_SEC:
                service = next(s for s in self.services if s.name == name)
                raise StackError(
                    f"{name} did not become ready in {START_TIMEOUT_SEC:.0f} s:\n{service.tail()}"
                )
            time.sleep(0.1)
        self.echo(f"  {name:<10} ready ({time.monotonic() - started:.1f} s)")

    def _start_sweep_timer(self) -> None:
        # Cloud Scheduler's part: call the sweeper function every SWEEP_INTERVAL_SEC.
        if "sweeper" not in self.ports:
            return
        from salescontrol.config import load

        interval = load().sweep_interval_sec
        url = self.url("sweeper") + "/"
        self._sweeping.clear()

        def tick() -> None:
            while not self._sweeping.wait(interval):
                with contextlib.suppress(requests.RequestException):
                    requests.post(url, timeout=max(interval, 30))

        self._sweep_thread = threading.Thread(target=tick, name="sweep-timer", daemon=True)
        self._sweep_thread.start()

    def _stop_sweep_timer(self) -> None:
        self._sweeping.set()
        if self._sweep_thread is not None:
            self._sweep_thread.join(timeout=5)
            self._sweep_thread = None

    def _write_env_file(self) -> None:
        lines = [f"export {k}={v}" for k, v in self.env.items()]
        (self.workdir / "env.sh").write_text("\n".join(lines) + "\n")


_FAKE_GCS_EVENTS = {
    "OBJECT_FINALIZE": "finalize",
    "OBJECT_DELETE": "delete",
    "OBJECT_METADATA_UPDATE": "metadataUpdate",
}


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    # The whole group, so that grandchildren (gunicorn workers, java) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


class _env:
    """Temporarily set environment variables (the client libraries read them)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


__all__ = ["LocalStack", "PrerequisiteError", "StackError", "free_port"]
