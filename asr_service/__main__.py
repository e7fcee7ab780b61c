"""`python -m asr_service`: load the models, serve /health, pull until SIGTERM, exit 0
(1 when pulling failed for good, e.g. the subscription is gone)."""

from __future__ import annotations

import logging
import signal
import sys

from asr_service.engine import Engine
from asr_service.health import Metrics, serve
from asr_service.worker import Worker
from salescontrol.config import settings
from salescontrol.errors import ConfigError
from salescontrol.log import setup_logging

log = logging.getLogger("asr_service")


def main() -> int:
    s = settings()
    setup_logging(s.log_level, s.log_format)
    try:
        s.require("database_url")
        engine = Engine(s)
    except ConfigError as exc:
        log.error("cannot start: %s", exc)
        return 2
    metrics = Metrics()
    worker = Worker(s, engine, metrics)
    server = serve(s.asr_health_port, metrics, lambda: worker.pulling)
    log.info("health endpoint", extra={"port": server.server_address[1]})
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()
    server.shutdown()
    return 1 if worker.failed else 0


if __name__ == "__main__":
    sys.exit(main())
