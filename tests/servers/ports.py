"""Ports for the tests' throwaway servers, all on the loopback interface."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port of ``host`` that nobody listens on now (the system's pick).  Another
    process could take it before the caller binds it; on a test machine that is rare."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_udp_port(host: str = HOST) -> int:
    """A UDP port of ``host`` that nobody has bound now (the system's pick); the same caveat
    as :func:`free_port` applies."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
