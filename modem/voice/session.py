"""The I/O side of :class:`modem.voice.answer.VoiceCall`: runs it on a call's bound UDP
socket in real time, 20 ms a tick.  RTP from the negotiated address goes through a
short fixed jitter buffer into the machine; RTP from anywhere else is ignored and
counted; the machine's frames go out as G.711 RTP.  ``stopped()`` (the call ended: BYE)
is a hang-up the machine hears at once, ``t38_offered()`` a fax."""

from __future__ import annotations

import logging
import secrets
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from modem import g711, rtp
from modem.errors import ModemError
from modem.voice.answer import FRAME_SECONDS, Outcome, VoiceCall

log = logging.getLogger(__name__)
MAX_DATAGRAM = 2048
JITTER_SECONDS = 0.06


@dataclass(slots=True)
class VoiceStats:
    packets_in: int = 0
    packets_out: int = 0
    foreign: int = 0  # packets from an address other than the negotiated one (ignored)
    malformed: int = 0


def run_voice_call(sock: socket.socket, far: tuple[str, int], law: g711.Law, machine: VoiceCall, *,
                   stopped: Callable[[], bool], t38_offered: Callable[[], bool] = lambda: False,
                   name: str = "") -> tuple[Outcome, VoiceStats]:
    """Pump ``machine`` until it is done; its outcome and the packet counts.  ``stopped()``:
    the call ended; ``t38_offered()``: the far end offered T.38 (a fax)."""
    stats = VoiceStats()
    decoders = {pt: g711.decoder(codec) for pt, codec in g711.LAWS.items()}
    jitter = rtp.JitterBuffer.for_depth(decoders, JITTER_SECONDS)
    sender = rtp.RtpSender(g711.PAYLOAD_TYPES[law], secrets.randbits(32), sequence=secrets.randbits(16),
                           timestamp=secrets.randbits(32))
    sock.setblocking(False)
    far = (far[0], int(far[1]))
    next_tick = time.monotonic()
    received = False
    while not machine.done:
        now = time.monotonic()
        ready, _, _ = select.select([sock], [], [], max(0.0, next_tick - now))
        if ready:
            received = _receive(sock, far, jitter, stats) or received
        now = time.monotonic()
        if stopped():
            machine.hangup(now)
            break
        if t38_offered():
            machine.t38_offered(now)
            break
        if now < next_tick:
            continue
        if now - next_tick > 10 * FRAME_SECONDS:  # starved: do not burst
            next_tick = now
        frame = machine.step(now, jitter.tick(), received)
        received = False
        next_tick += FRAME_SECONDS
        if machine.done:
            break
        try:
            sock.sendto(sender.packet(g711.encode(g711.samples_of(frame), law)), far)
            stats.packets_out += 1
        except OSError as exc:
            log.debug("rtp send error", extra={"line": name, "error": str(exc)})
    assert machine.outcome is not None
    log.info("voice listening ended", extra={"line": name, "verdict": machine.outcome.verdict,
                                             "ended_by": machine.outcome.ended_by, "in": stats.packets_in,
                                             "out": stats.packets_out, "foreign": stats.foreign})
    return machine.outcome, stats


def _receive(sock: socket.socket, far: tuple[str, int], jitter: rtp.JitterBuffer, stats: VoiceStats) -> bool:
    heard = False
    while True:
        try:
            data, source = sock.recvfrom(MAX_DATAGRAM)
        except (BlockingIOError, InterruptedError):
            return heard
        except OSError as exc:  # ICMP port unreachable from the far end: not fatal
            log.debug("rtp receive error", extra={"error": str(exc)})
            return heard
        if (source[0], int(source[1])) != far:
            stats.foreign += 1
            continue
        try:
            packet = rtp.decode_rtp(data)
        except ModemError:
            stats.malformed += 1
            continue
        stats.packets_in += 1
        heard = True
        jitter.push(packet)


__all__ = ["VoiceStats", "run_voice_call"]
