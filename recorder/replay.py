"""Feed a recording file through the whole recorder pipeline, from Python.

    from recorder import config, replay
    stats = replay.run(config.load("dev.yaml"), "shop.ogg", speed=0, start=datetime(...))

The demo, the evaluation and the load tests use this: the chunks are cut, encoded,
spooled and uploaded exactly as a Raspberry Pi would, on the time line you choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from recorder.agent import Agent
from recorder.config import Config
from recorder.sources import Replay


@dataclass(frozen=True)
class ReplayResult:
    drained: bool  # every chunk was delivered (or refused into failed/) in time
    chunks_recorded: int
    uploaded: int
    moved_to_failed: int
    health: dict


def run(
    config: Config,
    path: Path | str,
    speed: float = 0.0,
    start: datetime | None = None,
    timeout: float = 600.0,
    upload: bool = True,
) -> ReplayResult:
    """Play `path` into the spool (and upload it), returning when done or after `timeout`."""
    source = Replay(path, speed=speed, start=start, sample_rate=config.recording.sample_rate)
    with Agent(config, source=source, upload=upload) as agent:
        done = agent.wait_drained if upload else agent.capture.finished.wait
        drained = done(timeout)
    health = agent.health.snapshot()  # once the agent has stopped: its last counts are in
    return ReplayResult(
        drained=drained,
        chunks_recorded=health["chunks_recorded"],
        uploaded=health["uploaded"],
        moved_to_failed=health["moved_to_failed"],
        health=health,
    )
