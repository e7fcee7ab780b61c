"""Packaged mode: each deployable runs from exactly what deploys, in a venv of its own.

A function runs from the file set Terraform zips (modules/function_source: its folder at
the root, `salescontrol/` beside it, no bytecode) in a virtualenv made from that
archive's requirements.txt and nothing else; the ASR worker and the dashboard run from
what their Dockerfiles copy (`salescontrol/` and their package) in a virtualenv made from
their own requirements. So an import a requirements file forgot fails here as it would
in the cloud. Virtualenvs are cached by the hash of their requirements (and the Python
version), so only a changed file costs an install.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from devkit.local.supervisor import StackError
from devkit.paths import FUNCTIONS_DIR, REPO_ROOT

CORE_DIR = REPO_ROOT / "salescontrol"
# What a packaged deployable gets beside the stack's settings, as Terraform deploys it
# (tests/test_connection_budget.py holds these to terraform's local.db_env): a function
# instance serves one request at a time (max_instance_request_concurrency = 1, and
# functions-framework's gunicorn THREADS) with a pool of one connection.
FUNCTION_ENV = {"THREADS": "1", "DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0"}
IMAGE_ENV = {
    "asr_service": {"DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "0"},
    "dashboard": {"DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "0"},
}
# What each image copies besides the core (tests/test_requirements.py holds the
# Dockerfiles to it): the package, whose requirements.txt the image installs.
IMAGES = ("asr_service", "dashboard")


def default_cache() -> Path:
    """~/.cache/salescontrol/venvs (XDG_CACHE_HOME honoured)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "salescontrol" / "venvs"


def _tree(folder: Path, prefix: str = "") -> dict[str, bytes]:
    """Every file under `folder` but bytecode caches, by its path in the archive."""
    return {
        prefix + path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def function_files(function_dir: Path, core_dir: Path = CORE_DIR) -> dict[str, bytes]:
    """The function's archive as modules/function_source builds it."""
    return {**_tree(function_dir), **_tree(core_dir, "salescontrol/")}


def image_files(package: str, core_dir: Path = CORE_DIR) -> dict[str, bytes]:
    """What the package's Dockerfile copies: the core and the package."""
    return {**_tree(core_dir, "salescontrol/"), **_tree(REPO_ROOT / package, f"{package}/")}


def write_tree(files: dict[str, bytes], target: Path) -> Path:
    """Write an archive's files under `target` (emptied first)."""
    if target.exists():
        shutil.rmtree(target)
    for name, data in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return target


def venv_key(requirements: bytes) -> str:
    """The cache key of a venv: its requirements and the Python that runs them."""
    tag = f"{sys.implementation.cache_tag}-{sys.platform}".encode()
    return hashlib.sha256(tag + b"\0" + requirements).hexdigest()[:20]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two stacks starting at once build it once
        yield


def venv(requirements: bytes, cache: Path, echo: Callable[[str], None] = print) -> Path:
    """The Python of a venv that has exactly `requirements` installed (cached)."""
    key = venv_key(requirements)
    home = cache / key
    python = home / "bin" / "python"
    with _locked(cache / f"{key}.lock"):
        if (home / ".complete").exists():
            return python
        started = time.monotonic()
        # A folder without .complete is a build that died half-way: start it again.
        shutil.rmtree(home, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
        (home / "requirements.txt").write_bytes(requirements)
        install = subprocess.run(
            [
                str(python),
                *("-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q"),
                *("-r", str(home / "requirements.txt")),
            ],
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            shutil.rmtree(home, ignore_errors=True)
            raise StackError(f"pip could not install these requirements:\n{install.stderr[-3000:]}")
        seconds = time.monotonic() - started
        (home / ".complete").write_text(f"{seconds:.1f}\n")
        echo(f"  venv {key} built in {seconds:.0f} s")
    return python


class Packaging:
    """The packaged deployables of one stack: source trees under `root`, venvs in `cache`."""

    def __init__(
        self, root: Path, cache: Path | None = None, echo: Callable[[str], None] = print
    ) -> None:
        self.root, self.cache, self.echo = root, cache or default_cache(), echo

    def function(self, name: str, function_dir: Path | None = None) -> tuple[Path, Path]:
        """(python, source folder) of a function, from its archive's file set."""
        files = function_files(function_dir or FUNCTIONS_DIR / name)
        if "requirements.txt" not in files:
            raise StackError(f"function {name} has no requirements.txt: nothing would install")
        source = write_tree(files, self.root / "functions" / name)
        return venv(files["requirements.txt"], self.cache, self.echo), source

    def image(self, package: str) -> tuple[Path, Path]:
        """(python, folder) of the ASR worker or the dashboard, from its image's file set."""
        assert package in IMAGES, package
        source = write_tree(image_files(package), self.root / package)
        requirements = (REPO_ROOT / package / "requirements.txt").read_bytes()
        return venv(requirements, self.cache, self.echo), source
