"""Run the whole cloud side on this machine, wired the way production is.

Postgres (throwaway cluster), the Pub/Sub emulator, fake-gcs-server publishing
OBJECT_FINALIZE notifications to the emulator, and every function of topology.yaml under
functions-framework behind its push subscription (`packaged=True`: each function, the
ASR worker and the dashboard from what deploys, each in its own venv; `packaging`).
`LocalStack` composes them: one class
per service (`services`, `postgres`, `scheduler`, `mail`) under one `Supervisor` that runs each
child in its own process group with SIGTERM if this process dies, so stopping the stack
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from devkit.local import files, provision
from devkit.local.mail import MailService, TelegramService
from devkit.local.net import free_port, port_is_free
from devkit.local.packaging import IMAGE_ENV, Packaging
from devkit.local.postgres import Postgres, database_url
from devkit.local.prereqs import Programs, find_programs
from devkit.local.scheduler import Job, Scheduler
from devkit.local.services import AsrWorker, FakeGcs, Function, PubSubEmulator, Service
from devkit.local.supervisor import Child, Launch, StackError, Supervisor
from salescontrol import topology
from salescontrol.devices import new_token
from salescontrol.errors import PrerequisiteError

DATABASE = "salescontrol"


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
        packaged: bool = False,
        venv_cache: Path | None = None,
    ) -> None:
        self.workdir = workdir.resolve()
        self.project = project
        self.bucket = bucket
        self.admin_token = admin_token or new_token()
        self.dashboard_cookie_secret = new_token()  # its own secret, not the admin token
        self.telegram_bot_token = f"1{new_token()[:9]}:{new_token()[:35]}"  # Telegram's shape
        self.echo = echo
        self.asr = asr  # the ASR worker loads a Whisper model: tests that need none skip it
        self.packaging = (
            Packaging(self.workdir / "packaged", venv_cache, echo) if packaged else None
        )
        self.topology = topology.load()
        self.ports: dict[str, int] = {"ingest": ingest_port or free_port()}
        self.supervisor = Supervisor(self.workdir / "logs", echo)
        self._services: dict[str, Service] = {}
        self._postgres: Postgres | None = None
        self._scheduler: Scheduler | None = None

    @property
    def services(self) -> list[Child]:
        """The running children, in the order they (re)started."""
        return self.supervisor.children

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point a process at this stack."""
        return {
            "DATABASE_URL": database_url(self.ports["postgres"], DATABASE),
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.ports['pubsub']}",
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{self.ports['gcs']}",
            "GOOGLE_CLOUD_PROJECT": self.project,
            "AUDIO_BUCKET": self.bucket,
            "ADMIN_TOKEN": self.admin_token,
            "DASHBOARD_COOKIE_SECRET": self.dashboard_cookie_secret,
            "SIGNING_KEY_FILE": str(self.workdir / "signing-key.json"),
            "INGEST_URL": self.url("ingest"),
            # The digest's channels: the stack's own SMTP server and Telegram stand-in
            # (devkit/local/mail.py), and where a dashboard on this stack listens.
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports["mail"]),
            "SMTP_TLS": "none",
            "SMTP_FROM": "salescontrol@localhost",
            "TELEGRAM_BOT_TOKEN": self.telegram_bot_token,
            "TELEGRAM_API_URL": self.url("telegram"),
            "DASHBOARD_URL": self.url("dashboard"),
        }

    @property
    def schedule(self) -> dict[str, float]:
        """The local timer's jobs: function -> seconds between calls."""
        return {job.name: job.interval for job in self._scheduler.jobs} if self._scheduler else {}

    @contextlib.contextmanager
    def scheduler_paused(self) -> Iterator[None]:
        """Hold the timer still (no background sweeper or digest tick, the one in progress
        finished) so that a caller sweeping by hand sees only what its own tick did."""
        if self._scheduler is None:
            yield
            return
        self._scheduler.stop(wait=None)
        try:
            yield
        finally:
            self._scheduler.start()

    def url(self, function: str) -> str:
        """The base URL of a function (or of the ASR worker's /health server)."""
        return f"http://127.0.0.1:{self.ports[function]}"

    def start(self) -> None:
        """Start every part, provision topology.yaml on the emulators, write env.sh."""
        started = time.monotonic()
        programs = find_programs()
        files.prepare(self.workdir)
        self._allocate_ports()
        files.write_signing_key(self.workdir / "signing-key.json", self.project)
        pg, pubsub, gcs, functions, asr = self._compose(programs)
        mail = MailService(self.ports["mail"], self.workdir / "mail")
        telegram = TelegramService(
            self.ports["telegram"], self.workdir / "telegram", self.telegram_bot_token
        )
        self._services.update({mail.name: mail, telegram.name: telegram})
        # Postgres and the emulator start together; fake-gcs-server needs the emulator.
        pg.init_cluster()
        self._start(pg)
        self._start(pubsub)
        self._wait(pubsub)
        self._start(gcs)
        for outside in (mail, telegram):
            self._start(outside)
        self._wait(pg)
        applied = pg.create_database(DATABASE)
        self.echo(f"  migrations applied: {', '.join(applied) or 'none'}")
        self._wait(gcs)
        with provision.using_env(self.env):
            provision.create_bucket(self.project, self.bucket)
            provision.create_topics(self.project, self.topology)
        for function in functions:
            self._start(function)
        for function in functions:
            self._wait(function)
        for outside in (mail, telegram):
            self._wait(outside)
        with provision.using_env(self.env):
            provision.create_subscriptions(self.project, self.topology, self._push_endpoints())
        if asr:
            self._start(asr)
            self._wait(asr)
        files.write_env_file(self.workdir / "env.sh", self.env)
        self._start_scheduler()
        self.echo(f"local stack is up in {time.monotonic() - started:.1f} s")

    def stop(self) -> None:
        """Stop every child (its stop signal, then SIGKILL after 10 s) and remove throwaway data."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        self.supervisor.stop()
        if self._postgres is not None:
            self._postgres.remove_cluster()

    def check_alive(self) -> None:
        """Raise StackError naming a child that exited, with the end of its log."""
        self.supervisor.check_alive()

    def restart(self, name: str, sig: int = signal.SIGKILL) -> float:
        """Kill one child with `sig` (its whole group), start it again, wait until it
        serves; return the seconds it was away. For fault injection (the soak run).

        Call it from a thread that outlives the stack (the main thread): the new child
        gets SIGTERM when the thread that spawned it ends (PR_SET_PDEATHSIG)."""
        service = self._services[name]
        return self.supervisor.restart(name, sig, self.ports.get(name), service.serving)

    def summary(self) -> str:
        """What runs where, and the environment that points at it."""
        lines = ["", "SalesControl local stack", ""]
        for function in self.topology.functions:
            lines.append(f"  function {function:<10} {self.url(function)}")
        lines += [
            *([f"  asr worker          {self.url('asr')}/health"] if self.asr else []),
            f"  postgres            {self.env['DATABASE_URL']}",
            f"  pubsub emulator     {self.env['PUBSUB_EMULATOR_HOST']}",
            f"  fake-gcs-server     {self.env['STORAGE_EMULATOR_HOST']}  bucket {self.bucket}",
            f"  smtp server         127.0.0.1:{self.ports['mail']}  -> {self.workdir / 'mail'}",
            f"  telegram stand-in   {self.url('telegram')}  -> {self.workdir / 'telegram'}",
            f"  logs                {self.workdir / 'logs'}",
            "",
            f"Environment (also in {self.workdir / 'env.sh'}):",
        ]
        lines += [f"  export {k}={v}" for k, v in self.env.items()]
        return "\n".join(lines)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Path:
        """Run one more child (say the dashboard) on this stack; it stops with the stack."""
        launch = Launch(name, argv, env={**self.env, "PYTHONUNBUFFERED": "1", **(env or {})})
        return self.supervisor.spawn(launch).log_path

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _compose(
        self, programs: Programs
    ) -> tuple[Postgres, PubSubEmulator, FakeGcs, list[Function], AsrWorker | None]:
        ports, env = self.ports, self.env
        pg = self._postgres = Postgres(programs.pg_bin, ports["postgres"])
        pubsub = PubSubEmulator(programs.java, programs.pubsub_emulator, ports["pubsub"])
        notes = self.topology.notifications
        root = self.workdir / "gcs"
        gcs = FakeGcs(
            programs.fake_gcs, ports["gcs"], root, self.project, self.bucket, notes, pubsub.host
        )
        functions = [
            Function(name, ports[name], env, *self._packaged_function(name))
            for name in self.topology.functions
        ]
        asr = (
            AsrWorker(ports["asr"], env, *self._packaged_image("asr_service")) if self.asr else None
        )
        parts: list[Service] = [pg, pubsub, gcs, *functions, *([asr] if asr else [])]
        self._services = {s.name: s for s in parts}
        return pg, pubsub, gcs, functions, asr

    def _packaged_function(self, name: str) -> tuple[Path | None, Path | None]:
        if self.packaging is None:
            return None, None
        return self.packaging.function(name)

    def _packaged_image(self, package: str) -> tuple[Path | None, Path | None]:
        if self.packaging is None:
            return None, None
        return self.packaging.image(package)

    def spawn_deployable(self, name: str, package: str, args: list[str]) -> Path:
        """Run `python -m package ARGS` on this stack (say the dashboard), packaged like
        the rest when the stack is; it stops with the stack."""
        python, source = self._packaged_image(package)
        if python is None:
            return self.spawn(name, [sys.executable, "-m", package, *args])
        env = {**self.env, "PYTHONUNBUFFERED": "1", **IMAGE_ENV[package]}
        launch = Launch(
            name, [str(python), "-m", package, *args], env=env, cwd=source, inherit_env=False
        )
        return self.supervisor.spawn(launch).log_path

    def _start(self, service: Service) -> None:
        self.supervisor.spawn(service.launch())

    def _wait(self, service: Service) -> None:
        self.supervisor.wait_ready(service.name, service.ready)

    def _push_endpoints(self) -> dict[str, str]:
        return {
            sub: self.url(func.name) + "/"
            for sub in self.topology.subscriptions
            if (func := self.topology.push_target(sub)) is not None
        }

    def _allocate_ports(self) -> None:
        names = ["postgres", "pubsub", "gcs", "mail", "telegram", "dashboard"]
        names += list(self.topology.functions)
        for name in names + (["asr"] if self.asr else []):
            if name not in self.ports:
                self.ports[name] = free_port(set(self.ports.values()))
        for name, port in self.ports.items():
            if not port_is_free(port):
                raise StackError(
                    f"port {port} for {name} is in use (is another stack running?); "
                    "choose another with --port"
                )

    def _start_scheduler(self) -> None:
        # Cloud Scheduler's part: the sweeper every SWEEP_INTERVAL_SEC, the digest every
        # DIGEST_INTERVAL_SEC (it sends each day's digest once, however often it is asked).
        from salescontrol.config import load

        settings = load()
        intervals = {
            "sweeper": settings.sweep_interval_sec,
            "digest": settings.digest_interval_sec,
        }
        jobs = [
            Job(name, self.url(name) + "/", interval)
            for name, interval in intervals.items()
            if name in self.topology.functions
        ]
        self._scheduler = Scheduler(jobs)
        self._scheduler.start()


__all__ = ["DATABASE", "LocalStack", "PrerequisiteError", "StackError", "free_port"]
