"""The recorder's config.yaml (the seed's section 6.5), validated field by field.

Every problem names its field, e.g. `recording.chunk_duration_sec: must be a number
from 1 to 300`, so `python -m recorder --check` tells the installer what to fix.
Keys beyond the seed's are optional: `server.heartbeat_sec`, `server.verify_sec`,
`recording.timezone`, `healthcheck.host`. The server URL must be https:// (the device
token and the customers' audio cross the network): plain http:// only to a loopback
address, e.g. a local stack.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEFAULT_PATH = Path("/etc/recorder-agent/config.yaml")
MAX_CHUNK_SEC = 300  # the ingest API refuses longer chunks (MAX_CHUNK_DURATION_SEC)


class ConfigError(Exception):
    """A config value is missing or wrong; the message starts with the field's name."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    timeout_sec: float = 30.0
    retry_initial_sec: float = 2.0
    retry_max_sec: float = 300.0
    heartbeat_sec: float = 60.0
    verify_sec: float = 30.0  # how often uploaded chunks ask for vad's verdict


@dataclass(frozen=True)
class Recording:
    schedule_start: time = time(8, 0)
    schedule_end: time = time(22, 0)
    chunk_duration_sec: float = 60.0
    codec: str = "opus"
    bitrate: int = 24000  # bits per second
    sample_rate: int = 16000
    channels: int = 1
    timezone: str = ""  # empty: the system's local time zone

    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


@dataclass(frozen=True)
class Storage:
    spool_dir: Path = Path("/var/lib/recorder-agent/spool")
    max_age_days: float = 7.0
    max_size_gb: float = 20.0

    @property
    def max_bytes(self) -> int:
        return int(self.max_size_gb * 1e9)


@dataclass(frozen=True)
class Logging:
    level: str = "INFO"
    format: str = "json"


@dataclass(frozen=True)
class Healthcheck:
    enabled: bool = True
    port: int = 8042
    host: str = "0.0.0.0"


@dataclass(frozen=True)
class Config:
    device_id: str
    point_id: str
    register_id: str
    server: Server
    recording: Recording
    storage: Storage
    logging: Logging
    healthcheck: Healthcheck


def load(path: Path | str = DEFAULT_PATH) -> Config:
    """Read and validate a config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("config", f"{path} is not valid YAML: {exc}") from None
    return parse(data)


def parse(data: Any) -> Config:
    """Validate the parsed YAML document."""
    root = _Section(data, "")
    config = Config(
        device_id=root.uuid("device_id"),
        point_id=root.uuid("point_id"),
        register_id=root.uuid("register_id"),
        server=_server(root.section("server", required=True)),
        recording=_recording(root.section("recording")),
        storage=_storage(root.section("storage")),
        logging=_logging(root.section("logging")),
        healthcheck=_healthcheck(root.section("healthcheck")),
    )
    root.reject_unknown()
    return config


def _server(s: _Section) -> Server:
    url = s.text("url", required=True).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(s.name("url"), "must be an http:// or https:// URL")
    if url.startswith("http://") and not _loopback(urlsplit(url).hostname or ""):
        raise ConfigError(s.name("url"), "must be https:// (http:// only to 127.0.0.1)")
    initial = s.number("retry_initial_sec", Server.retry_initial_sec, low=0.01)
    result = Server(
        url=url,
        token=s.text("token", required=True),
        timeout_sec=s.number("timeout_sec", Server.timeout_sec, low=0.1),
        retry_initial_sec=initial,
        retry_max_sec=s.number("retry_max_sec", Server.retry_max_sec, low=initial),
        heartbeat_sec=s.number("heartbeat_sec", Server.heartbeat_sec, low=0.1),
        verify_sec=s.number("verify_sec", Server.verify_sec, low=0.1),
    )
    if result.token.startswith("YOUR_"):
        raise ConfigError(s.name("token"), "is still the placeholder; put the device token here")
    s.reject_unknown()
    return result


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _recording(s: _Section) -> Recording:
    codec = s.text("codec", Recording.codec)
    if codec != "opus":
        raise ConfigError(s.name("codec"), "only opus is supported")
    timezone = s.text("timezone", "")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(s.name("timezone"), f"unknown time zone {timezone!r}") from None
    result = Recording(
        schedule_start=s.clock("schedule_start", Recording.schedule_start),
        schedule_end=s.clock("schedule_end", Recording.schedule_end),
        chunk_duration_sec=s.number(
            "chunk_duration_sec", Recording.chunk_duration_sec, low=1, high=MAX_CHUNK_SEC
        ),
        codec=codec,
        bitrate=s.bitrate("bitrate", Recording.bitrate),
        sample_rate=int(s.number("sample_rate", 16000, low=16000, high=16000)),
        channels=int(s.number("channels", 1, low=1, high=1)),
        timezone=timezone,
    )
    s.reject_unknown()
    return result


def _storage(s: _Section) -> Storage:
    result = Storage(
        spool_dir=Path(s.text("spool_dir", str(Storage.spool_dir))),
        max_age_days=s.number("max_age_days", Storage.max_age_days, low=0.0001),
        max_size_gb=s.number("max_size_gb", Storage.max_size_gb, low=0.000001),
    )
    s.reject_unknown()
    return result


def _logging(s: _Section) -> Logging:
    level = s.text("level", Logging.level).upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(s.name("level"), "must be DEBUG, INFO, WARNING or ERROR")
    fmt = s.text("format", Logging.format)
    if fmt not in {"json", "text"}:
        raise ConfigError(s.name("format"), "must be json or text")
    s.reject_unknown()
    return Logging(level=level, format=fmt)


def _healthcheck(s: _Section) -> Healthcheck:
    enabled = s.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(s.name("enabled"), "must be true or false")
    result = Healthcheck(
        enabled=enabled,
        port=int(s.number("port", Healthcheck.port, low=0, high=65535, integer=True)),
        host=s.text("host", Healthcheck.host),
    )
    s.reject_unknown()
    return result


class _Section:
    """One mapping of the document; reads typed values and remembers which keys it used."""

    def __init__(self, data: Any, prefix: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(prefix or "config", "must be a mapping of keys to values")
        self.data, self.prefix, self.used = data, prefix, set()

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def get(self, key: str, default: Any = None, required: bool = False) -> Any:
        self.used.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                raise ConfigError(self.name(key), "is required")
            return default
        return value

    def section(self, key: str, required: bool = False) -> _Section:
        return _Section(self.get(key, {}, required), self.name(key))

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.get(key, default, required)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(self.name(key), "must be a string")
        value = str(value).strip()
        if required and not value:
            raise ConfigError(self.name(key), "is required")
        return value

    def uuid(self, key: str) -> str:
        value = self.text(key, required=True)
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ConfigError(self.name(key), f"must be a UUID, got {value!r}") from None

    def number(
        self,
        key: str,
        default: float,
        low: float | None = None,
        high: float | None = None,
        integer: bool = False,
    ) -> float:
        value = self.get(key, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and integer:
            ok = float(value).is_integer()
        if ok and low is not None:
            ok = value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            kind = "an integer" if integer else "a number"
            bounds = f" from {low:g} to {high:g}" if high is not None else f" ≥ {low:g}"
            raise ConfigError(self.name(key), f"must be {kind}{bounds}, got {value!r}")
        return float(value)

    def clock(self, key: str, default: time) -> time:
        value = self.get(key, default)
        if isinstance(value, time):
            return value
        # YAML 1.1 reads an unquoted 08:00 as a sexagesimal integer (480)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return time(value // 60, value % 60)
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ConfigError(self.name(key), f'must be a time "HH:MM", got {value!r}')
        return time(int(match[1]), int(match[2]))

    def bitrate(self, key: str, default: int) -> int:
        value = self.get(key, default)
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kK]?)", str(value).strip())
        bits = int(float(match[1]) * (1000 if match[2] else 1)) if match else 0
        if not 6000 <= bits <= 256000:
            raise ConfigError(self.name(key), f'must be from "6k" to "256k", got {value!r}')
        return bits

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(self.name(str(unknown[0])), "is not a known setting (typo?)")
