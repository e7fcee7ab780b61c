"""Packaged mode: a deployable runs from what deploys in a venv of its own requirements,
so a dependency its requirements file forgot fails here as it would in the cloud."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devkit.local.net import free_port
from devkit.local.packaging import Packaging, function_files, venv, venv_key
from devkit.local.services import Function
from devkit.local.supervisor import StackError, Supervisor
from devkit.paths import FUNCTIONS_DIR

pytestmark = pytest.mark.slow  # the first run builds a venv (pip, about a minute)

# A function whose code reaches salescontrol.audio (numpy, soundfile) while its
# requirements are the analyze function's, which has neither.
FORGETFUL_MAIN = """
import functions_framework
from salescontrol import audio


@functions_framework.http
def forgetful(request):
    return str(audio.RATE)
"""


@pytest.fixture
def forgetful(tmp_path: Path) -> Path:
    folder = tmp_path / "forgetful"
    folder.mkdir()
    (folder / "main.py").write_text(FORGETFUL_MAIN, encoding="utf-8")
    requirements = (FUNCTIONS_DIR / "analyze" / "requirements.txt").read_bytes()
    (folder / "requirements.txt").write_bytes(requirements)
    return folder


def _start(tmp_path: Path, function: Function) -> Supervisor:
    (tmp_path / "logs").mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(tmp_path / "logs", echo=lambda line: None)
    supervisor.spawn(function.launch())
    try:
        supervisor.wait_ready(function.name, function.ready)
    except BaseException:
        supervisor.stop()
        raise
    return supervisor


def test_a_forgotten_dependency_fails_packaged_as_in_the_cloud(
    tmp_path: Path, forgetful: Path
) -> None:
    # From the checkout it starts: this virtualenv has everything.
    _start(tmp_path / "checkout", Function("forgetful", free_port(), {}, source=forgetful)).stop()

    python, source = Packaging(tmp_path / "packaged").function("forgetful", forgetful)
    assert sorted(p.name for p in source.iterdir()) == [
        "main.py",
        "requirements.txt",
        "salescontrol",
    ]
    with pytest.raises(StackError, match="No module named 'numpy'"):
        _start(tmp_path / "run", Function("forgetful", free_port(), {}, python, source))


def test_a_function_runs_only_what_its_archive_and_venv_hold(tmp_path: Path) -> None:
    python, source = Packaging(tmp_path).function("analyze")
    files = function_files(FUNCTIONS_DIR / "analyze")
    assert sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()) == sorted(
        files
    )
    assert (python.parent.parent / "requirements.txt").read_bytes() == files["requirements.txt"]
    launch = Function("analyze", 1, {"X": "1"}, python, source).launch()
    assert launch.cwd == source and not launch.inherit_env
    assert launch.env["THREADS"] == "1" and launch.env["DB_POOL_SIZE"] == "1"
    assert "PYTHONPATH" not in launch.env


def test_a_venv_is_built_once_per_requirements_hash(tmp_path: Path) -> None:
    requirements = (FUNCTIONS_DIR / "analyze" / "requirements.txt").read_bytes()
    first = venv(requirements, Packaging(tmp_path).cache)
    started = time.monotonic()
    again = venv(requirements, Packaging(tmp_path).cache)
    assert again == first and time.monotonic() - started < 1.0
    assert venv_key(requirements) != venv_key(requirements + b"PyYAML==6.0.4\n")
