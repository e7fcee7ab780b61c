"""Loopback ports and HTTP probes: how the stack picks ports and tells a child serves."""

from __future__ import annotations

import random
import socket
from collections.abc import Collection
from pathlib import Path

import requests

# Ports below the kernel's ephemeral range: a port handed out by bind(0) is one the kernel
# may give next to an outgoing connection (a client of Postgres or of the emulator) in the
# seconds before the service that owns it binds it ("Address already in use" seen on a
# sweeper's port). Ports under the range are never taken so.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20000


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port(taken: Collection[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, under the ephemeral range
    (so no outgoing connection takes it before its service binds it), not in `taken`."""
    high = _ephemeral_low()
    if high - LOWEST > 1000:
        for _ in range(100):
            port = random.randrange(LOWEST, high)
            if port not in taken and port_is_free(port):
                return port
    with socket.socket() as s:  # no room under the range: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether `port` on 127.0.0.1 can be bound."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int) -> bool:
    """Whether something accepts connections on `port` of 127.0.0.1."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    """Whether a GET of `url` answers 200 within a second."""
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
