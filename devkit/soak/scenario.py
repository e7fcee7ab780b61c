"""What happens during one soak run: devices registered, replaying their recordings live
(or, one of them, after an outage and in random order), the bad chunks sent, and the
wait until the pipeline has drained. The faults come from `chaos`."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from devkit.admin import AdminClient
from devkit.local.stack import LocalStack
from devkit.soak import badaudio, devices, faults, measure
from devkit.soak.inputs import Device, Input
from devkit.soak.options import Options
from devkit.waiting import Timeout, poll_until
from recorder.replay import ReplayResult


@dataclass(frozen=True)
class Setup:
    """What every part of one run shares: its stack, options, input, folder and log."""

    stack: LocalStack
    options: Options
    input: Input
    workdir: Path
    with_faults: bool
    rng: random.Random  # one for the run, drawn from by the devices and the fault schedule
    faults: list[dict[str, Any]]  # the report's: each fault as it happened
    echo: Callable[[str], None]

    def device_root(self, device: Device) -> Path:
        """The folder of one simulated device (its config and spool)."""
        return self.workdir / "devices" / str(device.index)


@dataclass
class Traffic:
    """What the devices of one run did, as the faults, figures and invariants read it."""

    tokens: dict[str, str]  # device id -> its token
    networks: dict[str, faults.FaultProxy]  # device id -> the proxy standing for its network
    offline: str | None  # with faults, this device is offline, then sends its backlog
    results: dict[str, ReplayResult] = field(default_factory=dict)
    replayed_at: dict[str, float] = field(default_factory=dict)  # device id -> all chunks up
    bad: list[badaudio.Sent] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)  # devices and bad chunks

    def replaying(self) -> int:
        return sum(t.is_alive() for t in self.threads)

    def join(self, began: float) -> float:
        """Wait for every device; how long after `began` the last one had its chunks up."""
        for thread in self.threads:
            thread.join()
        return max(self.replayed_at.values(), default=began) - began

    def close(self) -> None:
        for network in self.networks.values():
            network.close()


def register(stack: LocalStack, fleet: list[Device]) -> dict[str, str]:
    """Register each device of `fleet` through the admin API; device id -> its token."""
    admin = AdminClient(stack.url("ingest"), stack.admin_token)
    return {d.device_id: admin.register(**d.identity())["token"] for d in fleet}


def start(setup: Setup, tokens: dict[str, str]) -> Traffic:
    """Every device replays its chunks in a thread of its own, behind its own network;
    one more thread sends the bad chunks."""
    given = setup.input
    # With faults, device 0 is offline, then sends its whole backlog in random order.
    offline = given.devices[0].device_id if setup.with_faults else None
    networks = {d.device_id: faults.FaultProxy(setup.stack.url("ingest")) for d in given.devices}
    traffic = Traffic(tokens, networks, offline)
    traffic.threads = [
        threading.Thread(target=_replay, args=(setup, traffic, d), daemon=True)
        for d in given.devices
    ]
    traffic.threads.append(
        threading.Thread(target=_send_bad_chunks, args=(setup, traffic), daemon=True)
    )
    for thread in traffic.threads:
        thread.start()
    return traffic


def _replay(setup: Setup, traffic: Traffic, device: Device) -> None:
    """One device: its chunks go up live, or, for the offline one, after an outage and
    in random order."""
    options = setup.options
    root = setup.device_root(device)
    settings = devices.config(
        root,
        device.device_id,
        device.identity(),
        traffic.networks[device.device_id].url,
        traffic.tokens[device.device_id],
        options.chunk_sec,
    )
    staged = devices.stage(setup.input.chunks[device.device_id], device.device_id, root / "staged")
    if device.device_id != traffic.offline:
        result = devices.upload_live(settings, staged, options.speed, options.timeout_sec)
    else:
        outage = setup.rng.uniform(options.outage_sec / 3, options.outage_sec)
        at = time.time()
        time.sleep(outage)
        began = time.monotonic()
        result = devices.upload_shuffled(settings, staged, options.seed, options.timeout_sec)
        fault = faults.Fault(
            "offline_backlog",
            device.device_id,
            at,
            time.monotonic() - began,
            {"outage_sec": round(outage, 1), "chunks_in_random_order": len(staged)},
        )
        setup.faults.append(asdict(fault))
    traffic.results[device.device_id] = result
    traffic.replayed_at[device.device_id] = time.monotonic()


def _send_bad_chunks(setup: Setup, traffic: Traffic) -> None:
    """Bad chunks on purpose, announced and uploaded by one more device."""
    options, device = setup.options, setup.input.bad_device
    bad = badaudio.mix(options.bad_chunks, options.seed)
    badaudio.install_poison(setup.stack.env["DATABASE_URL"], bad)
    traffic.bad = badaudio.send(
        setup.stack.url("ingest"),
        traffic.tokens[device.device_id],
        bad,
        setup.input.start - timedelta(minutes=options.bad_chunks + 5),
    )


def busy(
    engine: sa.Engine, traffic: Traffic, began: float, echo: Callable[[str], None]
) -> Callable[[], bool]:
    """Whether devices are still replaying or the pipeline still has work; says how
    things stand every 30 s."""
    last = [0.0]

    def still_busy() -> bool:
        try:
            waiting = measure.backlog(engine)
            owed = measure.unsettled(engine)
        except sa.exc.DBAPIError:
            return True  # Postgres restarting
        replaying = traffic.replaying()
        if time.monotonic() - last[0] >= 30:
            last[0] = time.monotonic()
            counts = ", ".join(f"{k.split()[0]} {v}" for k, v in waiting.items())
            echo(
                f"soak: {time.monotonic() - began:.0f} s, {replaying} devices replaying; "
                f"waiting: {counts}"
            )
        return bool(replaying or owed)

    return still_busy


def wait_drained(busy: Callable[[], bool], deadline: float) -> bool:
    """Wait until nothing is `busy` or the monotonic `deadline`; whether it drained."""
    try:
        poll_until(lambda: not busy(), timeout=deadline - time.monotonic(), interval=1.0)
    except Timeout:
        return False
    return True
