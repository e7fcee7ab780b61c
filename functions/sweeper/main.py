"""sweeper: the periodic tick (Cloud Scheduler in the cloud, a timer in the local stack).

POST (or GET) / runs `salescontrol.sweeper.sweep()` once and answers its counts as JSON:
dialogues of devices that went quiet are closed, stuck chunks and dialogues re-queued.
"""

from __future__ import annotations

import dataclasses
import logging

import functions_framework
from flask import Request

from salescontrol.config import settings
from salescontrol.errors import TransientError
from salescontrol.log import setup_logging
from salescontrol.sweeper import sweep

setup_logging(settings().log_level, settings().log_format)
log = logging.getLogger("sweeper")


@functions_framework.http
def sweeper(request: Request) -> tuple[dict, int]:
    try:
        result = sweep()
    except TransientError as exc:
        log.warning("sweep failed, the next tick retries: %s", exc)
        return {"error": "transient", "message": str(exc)}, 503
    return dataclasses.asdict(result), 200
