"""A voice caller's media for tests: a thread that sends 16-bit PCM as G.711 RTP in real
time (20 ms packets) from a socket bound to ``HOST:port`` (:attr:`port`, for its SDP) to
``remote``, and keeps what it receives, decoded.

It can wait for the called side's beep before it speaks (``after_beep``: the first loud
audio it hears, then quiet), stop sending after ``stop_after`` seconds (a stream that
dies), and keep sending silence after its audio (``then_silence``).  :attr:`spoke_at`
is the time it started on ``audio``.

Usage::

    with RtpVoice(speech, remote=(HOST, our_port), after_beep=True) as caller:
        ...
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from types import TracebackType
from typing import Self

import numpy as np

from modem import g711
from modem.errors import ModemError
from modem.rtp import RtpPacket, RtpSender, decode_rtp
from tests.servers.ports import HOST

FRAME = 160
LOUD_RMS = 1000.0


class RtpVoice:
    def __init__(self, audio: np.ndarray, *, remote: tuple[str, int] | None = None,
                 law: g711.Law = "PCMU", after_beep: bool = False, then_silence: bool = True,
                 stop_after: float | None = None) -> None:
        self.audio = np.asarray(audio, dtype=np.int16)
        self.remote = remote
        self.law = law
        self.after_beep = after_beep
        self.then_silence = then_silence
        self.stop_after = stop_after
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.received = bytearray()  # decoded int16 of every packet received
        self.packets_in = 0
        self.packets_out = 0
        self.spoke_at: float | None = None
        self.beep_heard = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtp-voice-{self.port}", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None,
                 _tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.sock.close()

    def _run(self) -> None:
        sender = RtpSender(g711.PAYLOAD_TYPES[self.law], random.getrandbits(32))
        started = time.monotonic()
        next_tick = started
        pos = 0
        loud = False
        while not self._stop.is_set():
            self._receive()
            if self.after_beep and not self.beep_heard:
                level = self._level()
                if level >= LOUD_RMS:
                    loud = True
                elif loud:
                    self.beep_heard = True
            speaking = not self.after_beep or self.beep_heard
            if speaking and self.spoke_at is None:
                self.spoke_at = time.monotonic()
            if speaking and pos < len(self.audio):
                frame = self.audio[pos:pos + FRAME]
                frame = np.concatenate([frame, np.zeros(FRAME - len(frame), dtype=np.int16)])
                pos += FRAME
            elif speaking and not self.then_silence:
                frame = None
            else:
                frame = np.zeros(FRAME, dtype=np.int16)
            alive = self.stop_after is None or time.monotonic() - started < self.stop_after
            if frame is not None and alive and self.remote is not None:
                with contextlib.suppress(OSError):
                    self.sock.sendto(sender.packet(g711.encode(frame, self.law)), self.remote)
                    self.packets_out += 1
            next_tick += FRAME / 8000
            time.sleep(max(0.0, next_tick - time.monotonic()))

    def _receive(self) -> None:
        while True:
            try:
                data, _source = self.sock.recvfrom(2048)
            except (BlockingIOError, OSError):
                return
            try:
                packet: RtpPacket = decode_rtp(data)
            except ModemError:  # not RTP: skipped
                continue
            law = g711.LAWS.get(packet.payload_type)
            if law is None:
                continue
            self.packets_in += 1
            self.received += g711.decode(packet.payload, law).tobytes()

    def _level(self) -> float:
        last = np.frombuffer(bytes(self.received[-2 * FRAME:]), dtype=np.int16).astype(float)
        return float(np.sqrt(np.mean(last * last))) if len(last) else 0.0


class RtpNoise(RtpVoice):
    """Loud noise as RTP from another address (a source that was never negotiated)."""

    def __init__(self, remote: tuple[str, int], seconds: float = 30.0) -> None:
        rng = np.random.default_rng(5)
        super().__init__((rng.normal(0, 6000, int(seconds * 8000))).astype(np.int16), remote=remote)
