"""The faults of a run with --faults: every message delivered twice throughout, and each
kind of fault of `faults` injected at random moments until the pipeline has drained."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from devkit.local.stack import LocalStack
from devkit.soak import faults
from devkit.soak.inputs import Device
from devkit.soak.scenario import Setup, Traffic
from devkit.waiting import Timeout, poll_until
from recorder.spool import Spool


class Duplication:
    """Every push goes through a proxy that delivers it twice; every ASR request is
    published twice."""

    def __init__(self, stack: LocalStack) -> None:
        self.proxies: dict[str, faults.FaultProxy] = {}  # subscription -> its push proxy
        for sub in stack.topology.subscriptions:
            target = stack.topology.push_target(sub)
            if target is None:
                continue
            proxy = faults.FaultProxy(stack.url(target.name), faults.DUPLICATE)
            self.proxies[sub] = proxy
            faults.point_push(stack, sub, proxy.url + "/")
        self.duplicator = faults.Duplicator(stack, stack.topology.subscriptions["asr"].topic)

    def summary(self) -> dict[str, Any]:
        """The duplicate deliveries, reported as one fault."""
        counts = {sub: dict(p.counts) for sub, p in self.proxies.items()}
        return asdict(
            faults.Fault(
                "duplicate_delivery",
                "every push subscription and asr-requests",
                0.0,
                None,
                {"pushes": counts, "asr_requests_copied": self.duplicator.copies},
            )
        )

    def close_proxies(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()


class Schedule:
    """Each kind of fault at random moments, in turn, until the pipeline has drained and
    every kind has happened at least once; network outages run in the background."""

    def __init__(
        self, setup: Setup, traffic: Traffic, push_proxies: dict[str, faults.FaultProxy]
    ) -> None:
        self.setup, self.traffic, self.push_proxies = setup, traffic, push_proxies
        self.outages: list[threading.Thread] = []

    def run(self, busy: Callable[[], bool]) -> None:
        """Inject until nothing is `busy` and each kind happened. A network outage comes
        first, while the devices are still recording."""
        stack, rng = self.setup.stack, self.setup.rng
        # The sweeper and the digest are the timer's targets, not on the data path.
        functions = [f for f in stack.topology.functions if f not in stack.schedule]
        kinds: dict[str, Callable[[], faults.Fault | None]] = {
            **{f"sigkill {f}": lambda f=f: faults.kill_process(stack, f) for f in functions},
            "sigterm asr": lambda: faults.preempt(stack, "asr"),
            "postgres restart": lambda: faults.restart_postgres(stack),
            "push 500": lambda: _push_errors(self.push_proxies, rng),
        }
        self._network_down()
        injected: set[str] = set()
        names = sorted(kinds)
        deadline = time.monotonic() + self.setup.options.timeout_sec
        # A loop, not poll_until: it injects between its looks at the pipeline.
        while (busy() or injected != set(names)) and time.monotonic() < deadline:
            rng.shuffle(names)
            for name in names:
                time.sleep(rng.uniform(1, 5))
                fault = kinds[name]()
                injected.add(name)
                if fault is None:
                    continue
                self.setup.echo(
                    f"soak: fault {fault.kind} on {fault.target[:12]}, "
                    f"recovered in {fault.recovery_sec or 0:.1f} s"
                )
                self.setup.faults.append(asdict(fault))
                if rng.random() < 0.3:
                    self._network_down()

    def join(self) -> None:
        """Wait for the outages still under way."""
        for thread in self.outages:
            thread.join()

    def _network_down(self) -> None:
        """A live device loses its network for a while (in the background: minutes)."""
        traffic, rng, options = self.traffic, self.setup.rng, self.setup.options
        live = [
            d
            for d in self.setup.input.devices
            if d.device_id != traffic.offline
            and d.device_id in traffic.networks
            and d.device_id not in traffic.replayed_at  # still replaying
            and traffic.networks[d.device_id].mode == faults.PASS
        ]
        if not live:
            return
        device = rng.choice(live)
        seconds = rng.uniform(options.outage_sec / 3, options.outage_sec)
        thread = threading.Thread(
            target=_outage, args=(self.setup, traffic, device, seconds), name="outage", daemon=True
        )
        self.outages.append(thread)
        thread.start()


def _push_errors(proxies: dict[str, faults.FaultProxy], rng: random.Random) -> faults.Fault:
    """A push endpoint answers 500 for 3-10 s."""
    sub = rng.choice(sorted(proxies))
    proxy = proxies[sub]
    seconds = rng.uniform(3, 10)
    at = time.time()
    before = dict(proxy.counts)
    proxy.mode = faults.ERROR
    time.sleep(seconds)
    proxy.mode = faults.DUPLICATE
    answered = proxy.counts.get(faults.ERROR, 0) - before.get(faults.ERROR, 0)
    # Recovered: the first redelivery that reaches the function after the window.
    ok_before = _forwarded_ok(proxy.counts)
    began = time.monotonic()
    if answered:
        with contextlib.suppress(Timeout):
            poll_until(lambda: _forwarded_ok(proxy.counts) != ok_before, 120, 0.1)
    return faults.Fault(
        "push_500", sub, at, seconds + time.monotonic() - began, {"answered_500": answered}
    )


def _forwarded_ok(counts: dict[str, int]) -> int:
    return sum(v for k, v in counts.items() if k.startswith("forwarded_2"))


def _outage(setup: Setup, traffic: Traffic, device: Device, seconds: float) -> None:
    """Take `device`'s network down for `seconds`; reported once its spool is empty."""
    network = traffic.networks[device.device_id]
    spool = Spool(setup.device_root(device) / "spool")
    at = time.time()
    network.mode = faults.DOWN
    time.sleep(seconds)
    backlog_files = len(spool.pending())
    network.mode = faults.PASS
    began = time.monotonic()
    with contextlib.suppress(Timeout):
        poll_until(lambda: not spool.pending(), setup.options.timeout_sec, 0.5)
    setup.echo(f"soak: network of device {device.index} was down {seconds:.0f} s")
    fault = faults.Fault(
        "network_down",
        device.device_id,
        at,
        time.monotonic() - began,
        {"down_sec": round(seconds, 1), "backlog_chunks": backlog_files},
    )
    setup.faults.append(asdict(fault))
