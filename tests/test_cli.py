"""`python -m salescontrol` as a user runs it."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "salescontrol", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env or dict(os.environ),
        timeout=120,
    )


def test_migrate_without_database_url_names_the_setting() -> None:
    result = run_cli("migrate")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: DATABASE_URL is not set")
    assert len(result.stderr.strip().splitlines()) == 1


def test_migrate_applies_then_reports_up_to_date(fresh_db: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_db}
    first = run_cli("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "001_schema.sql" in first.stdout
    second = run_cli("migrate", env=env)
    assert second.returncode == 0
    assert "up to date" in second.stdout


def test_missing_prerequisite_is_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java, no gcloud, no pg_config here
    result = run_cli("local", "--port", "0", "--workdir", str(tmp_path / "w"), env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Java 17 is missing" in lines[0] and "apt-get install" in lines[0]


@pytest.mark.slow
def test_local_stack_starts_and_sigterm_leaves_nothing_running(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ADMIN_TOKEN")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "salescontrol",
            "local",
            "--port",
            "0",
            "--workdir",
            str(tmp_path / "stack"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)
    reader.start()
    output, deadline = [], time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not any("Press Ctrl-C" in x for x in output):
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=1))
        assert any("Press Ctrl-C" in line for line in output), "".join(output)
        assert any("export DATABASE_URL=" in line for line in output)
        children = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for part in ("postgres", "pubsub", "fake-gcs-server", "functions_framework", "asr_service"):
            assert part in names
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        assert proc.returncode == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
        proc.stdout.close()
