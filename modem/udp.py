"""Small helpers for the media sockets of a call (RTP, UDPTL)."""

from __future__ import annotations

import socket

MAX_DATAGRAM = 65535


def discard_backlog(sock: socket.socket) -> int:
    """Read and drop every datagram already queued on ``sock``; how many there were.

    A media pump that takes over a call's socket mid-call (the G.711 soft modem after
    the fax-or-voice decision or a refused T.38 re-INVITE) finds the audio the far end
    sent meanwhile queued in it.  Nobody was listening then: played now, it would put
    the modem seconds behind the far end for the rest of the call."""
    blocking = sock.getblocking()
    sock.setblocking(False)
    count = 0
    try:
        while True:
            try:
                sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return count
            except OSError:  # e.g. an ICMP error queued on the socket: nothing to read
                return count
            count += 1
    finally:
        sock.setblocking(blocking)
