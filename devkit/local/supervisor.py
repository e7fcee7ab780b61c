"""The children of the local stack: spawned so they die with it, stopped in reverse.

Each child runs in its own process group, logs to `<log_dir>/<name>.log`, and gets
SIGTERM if this process dies; the supervisor starts, waits for, restarts and stops them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devkit.local.net import port_open
from devkit.paths import REPO_ROOT
from salescontrol.errors import SalesControlError

START_TIMEOUT_SEC = 60.0
STOP_TIMEOUT_SEC = 10.0


class StackError(SalesControlError):
    """A part of the local stack failed to start or died."""


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


@dataclass(frozen=True)
class Launch:
    """How to start one child: its program, extra environment, user, stop signal, folder,
    and whether it inherits this process's environment (a packaged deployable does not:
    nothing of this checkout's virtualenv or PYTHONPATH may leak into it)."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    cwd: Path | None = None
    inherit_env: bool = True


# What a packaged child keeps of this process's environment.
_BASE_ENV = ("HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "XDG_CACHE_HOME")
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def _environment(launch: Launch) -> dict[str, str]:
    if launch.inherit_env:
        base = dict(os.environ)
    else:
        base = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        base["PATH"] = _SYSTEM_PATH
    return {**base, **(launch.env or {})}


@dataclass
class Child:
    """One running child; `launch` starts it again after a restart."""

    name: str
    proc: subprocess.Popen
    log_path: Path
    launch: Launch

    def tail(self, lines: int = 15) -> str:
        """The last `lines` lines of its log ("" when there is none yet)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Supervisor:
    """Owns the stack's child processes, in the order they started."""

    def __init__(self, log_dir: Path, echo: Callable[[str], None] = print) -> None:
        self.log_dir = log_dir
        self.echo = echo
        self.children: list[Child] = []

    def spawn(self, launch: Launch) -> Child:
        """Start `launch` in its own process group, its output appended to its log."""
        log_path = self.log_dir / f"{launch.name}.log"
        with open(log_path, "ab") as log_file:
            proc = subprocess.Popen(
                _dying_with_parent(launch.argv),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_environment(launch),
                cwd=launch.cwd or REPO_ROOT,
                start_new_session=True,
                preexec_fn=None if _SETPRIV else _die_with_parent,
                user=launch.user,
            )
        child = Child(launch.name, proc, log_path, launch)
        self.children.append(child)
        return child

    def child(self, name: str) -> Child:
        """The running child called `name`."""
        return next(c for c in self.children if c.name == name)

    def check_alive(self) -> None:
        """Raise StackError naming a child that exited, with the end of its log."""
        for child in self.children:
            code = child.proc.poll()
            if code is not None:
                raise StackError(
                    f"{child.name} exited with code {code}; last lines of "
                    f"{child.log_path}:\n{child.tail()}"
                )

    def wait_ready(self, name: str, ready: Callable[[], bool]) -> None:
        """Wait until `ready()`, failing fast if a child dies; echo how long it took."""
        started = time.monotonic()
        while not ready():
            self.check_alive()
            if time.monotonic() - started > START_TIMEOUT_SEC:
                raise StackError(
                    f"{name} did not become ready in {START_TIMEOUT_SEC:.0f} s:\n"
                    f"{self.child(name).tail()}"
                )
            time.sleep(0.1)
        self.echo(f"  {name:<10} ready ({time.monotonic() - started:.1f} s)")

    def restart(self, name: str, sig: int, port: int | None, ready: Callable[[], bool]) -> float:
        """Kill `name` with `sig` (its whole group), start it again, wait until `ready()`;
        return the seconds it was away.

        Call it from a thread that outlives the stack (the main thread): the new child
        gets SIGTERM when the thread that spawned it ends (PR_SET_PDEATHSIG)."""
        child = self.child(name)
        started = time.monotonic()
        _signal_group(child.proc, sig)
        try:
            child.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _signal_group(child.proc, signal.SIGKILL)
            child.proc.wait()
        self.children.remove(child)
        # A killed group's last socket holder can outlive its leader by a moment; a port
        # still accepting then would pass for the new child's (a recovery of 0.0 s).
        deadline = time.monotonic() + 10
        while port and port_open(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.spawn(child.launch)
        self.wait_ready(name, ready)
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop every child, newest first: its stop signal, then SIGKILL after 10 s."""
        for child in reversed(self.children):
            _signal_group(child.proc, child.launch.stop_signal)
        deadline = time.monotonic() + STOP_TIMEOUT_SEC
        for child in reversed(self.children):
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()
        self.children.clear()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    # The whole group, so that grandchildren (gunicorn workers, java) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
