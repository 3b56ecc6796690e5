"""A listening telephone's media end for tests: a UDP socket on loopback that keeps every
RTP packet it receives (in a thread) and gives back the G.711 audio as 16-bit samples.

Usage::

    with RtpSink() as sink:
        ...  # an SDP answer names sink.port; the caller sends PCMU there
    samples = sink.samples()  # in sequence order, each packet's payload decoded
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import numpy as np

from modem import g711
from modem.rtp import RtpError, RtpPacket, decode_rtp
from tests.servers.ports import HOST
from tests.servers.speech import Samples


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic()
    packet: RtpPacket


class RtpSink:
    """Binds ``127.0.0.1:0`` (:attr:`port`) at construction; ``with`` runs its thread."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((HOST, 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.arrivals: list[Arrival] = []
        self.not_rtp = 0  # datagrams that did not parse as RTP
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtp-sink-{self.port}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                datagram = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                self.arrivals.append(Arrival(time.monotonic(), decode_rtp(datagram)))
            except RtpError:
                self.not_rtp += 1

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._sock.close()

    def samples(self) -> Samples:
        """The received G.711 audio (PCMU/PCMA by payload type; other payload types
        skipped), packets in sequence order, as 16-bit samples."""
        audio = [a.packet for a in self.arrivals if a.packet.payload_type in g711.LAWS]
        if not audio:
            return np.zeros(0)
        first = audio[0].sequence  # (a list being sorted reads as empty)
        audio.sort(key=lambda p: _unwrapped(p.sequence, first))
        return np.concatenate([g711.decode(p.payload, g711.LAWS[p.payload_type]) for p in audio]).astype(
            np.float64
        )

    @property
    def seconds(self) -> float:
        """From the first packet's arrival to the last's."""
        return self.arrivals[-1].at - self.arrivals[0].at if self.arrivals else 0.0


def _unwrapped(sequence: int, first: int) -> int:
    return (sequence - first) % 65536
