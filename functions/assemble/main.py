"""assemble: a chunk's speech segments are stored -> close the dialogues they complete.

Triggered by chunk-vad-done (push subscription `assemble`). The work is
`salescontrol.assembly.assemble_device`: serialised per device, idempotent, publishing an
asr-requests message for each newly closed dialogue after the commit.
"""

from __future__ import annotations

import logging

import functions_framework

from salescontrol import messages
from salescontrol.assembly import assemble_device
from salescontrol.config import settings
from salescontrol.events import Message, handler
from salescontrol.ids import parse_id
from salescontrol.log import setup_logging

setup_logging(settings().log_level, settings().log_format)
log = logging.getLogger("assemble")


@functions_framework.cloud_event
@handler
def assemble(msg: Message) -> None:
    done = messages.parse(messages.ChunkVadDone, msg)
    closed = assemble_device(parse_id(done.device_id, "device_id"))
    log.info(
        "assembled: %d dialogues closed",
        len(closed),
        extra={"device_id": done.device_id, "chunk_id": done.chunk_id},
    )
