"""JSON log lines for journald: INFO to stdout, WARNING and above to stderr.

The same shape as the cloud side's `salescontrol.log`, rebuilt here because the
recorder must not import the cloud package.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, device_id: str = "") -> None:
        super().__init__()
        self.device_id = device_id

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.device_id:
            event["device_id"] = self.device_id
        event.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


class _Below(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING


def setup(level: str = "INFO", fmt: str = "json", device_id: str = "") -> None:
    """Configure the root logger once, for `python -m recorder`."""
    text = logging.Formatter("%(levelname)s %(message)s")
    formatter = JsonFormatter(device_id) if fmt == "json" else text
    out, err = logging.StreamHandler(sys.stdout), logging.StreamHandler(sys.stderr)
    out.addFilter(_Below())
    err.setLevel(logging.WARNING)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in (out, err):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
