"""The local stack's ports: under the kernel's ephemeral range, never one already given."""

from __future__ import annotations

import socket

from devkit.local import net


def test_a_free_port_lies_under_the_ephemeral_range_and_binds() -> None:
    # bind(0) hands out ephemeral ports, which an outgoing connection can take before the
    # service binds (a sweeper died of "Address already in use" so)
    low = net._ephemeral_low()
    taken: set[int] = set()
    for _ in range(20):
        port = net.free_port(taken)
        assert net.LOWEST <= port < low and port not in taken
        taken.add(port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert not net.port_is_free(port)
        assert net.free_port({port}) != port
