"""An impaired UDP relay for media tests: datagrams between two peers, each dropped with a
probability and delayed by a random jitter (so they may also arrive out of order), in a
thread on two loopback sockets.

Side ``a`` faces one peer, side ``b`` the other: peer A sends to :attr:`a_address` and
hears the relay from it; likewise B with :attr:`b_address`.  Where each peer is, is
learnt from its first datagram unless given.  Loss applies both ways; ``jitter_to_a``
and ``jitter_to_b`` (seconds, uniform from 0) separately, because a peer without a
jitter buffer (spandsp's ``fax_state`` in tests/servers/fax_audio.py feeds packets as
they come) garbles reordered audio whatever the other end does.

Usage::

    with ImpairedRelay(loss=0.01, jitter_to_a=0.04, seed=1) as relay:
        ...  # A talks to relay.a_address, B to relay.b_address
"""

from __future__ import annotations

import heapq
import random
import select
import socket
import threading
import time
from types import TracebackType

from tests.servers.ports import HOST

Address = tuple[str, int]


class ImpairedRelay:
    def __init__(self, *, loss: float = 0.0, jitter_to_a: float = 0.0, jitter_to_b: float = 0.0,
                 seed: int = 0, a_peer: Address | None = None, b_peer: Address | None = None) -> None:
        self.loss = loss
        self.jitter = {"a": jitter_to_a, "b": jitter_to_b}
        self.rng = random.Random(seed)
        self.sockets = {side: socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for side in "ab"}
        for sock in self.sockets.values():
            sock.bind((HOST, 0))
        self.peers: dict[str, Address | None] = {"a": a_peer, "b": b_peer}
        self.dropped = 0
        self.relayed = 0
        self._queue: list[tuple[float, int, str, bytes]] = []  # (due, order, towards side, datagram)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="impaired-relay", daemon=True)

    @property
    def a_address(self) -> Address:
        return HOST, int(self.sockets["a"].getsockname()[1])

    @property
    def b_address(self) -> Address:
        return HOST, int(self.sockets["b"].getsockname()[1])

    def _run(self) -> None:
        by_fd = {sock.fileno(): side for side, sock in self.sockets.items()}
        while not self._stop.is_set():
            wait = 0.005
            if self._queue:
                wait = max(0.0, min(wait, self._queue[0][0] - time.monotonic()))
            ready, _, _ = select.select(list(by_fd), [], [], wait)
            for fd in ready:
                side = by_fd[fd]
                data, source = self.sockets[side].recvfrom(4096)
                if self.peers[side] is None:
                    self.peers[side] = (source[0], int(source[1]))
                if self.rng.random() < self.loss:
                    self.dropped += 1
                    continue
                towards = "b" if side == "a" else "a"
                due = time.monotonic() + self.rng.uniform(0.0, self.jitter[towards])
                heapq.heappush(self._queue, (due, self.relayed, towards, data))
                self.relayed += 1
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, towards, data = heapq.heappop(self._queue)
                peer = self.peers[towards]
                if peer is not None:
                    self.sockets[towards].sendto(data, peer)

    def __enter__(self) -> ImpairedRelay:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for sock in self.sockets.values():
            sock.close()
