"""RTP for fax over G.711 (RFC 3550, RFC 3551): packets, an outgoing stream, and a
FIXED-depth jitter buffer.  Sans-IO: bytes and ticks in, bytes out; no clock.

Why a fixed buffer: a fax modem's receiver locks on to the carrier's phase and timing
during training and then tracks slow drift only.  An adaptive buffer that shrinks or
stretches the playout during a call inserts or drops samples mid-carrier, which a V.17
or V.29 demodulator sees as a phase jump: the page is lost.  So the playout delay is
set once (``depth`` ticks after the first packet) and never changes; a late packet is
dropped (counted), a missing one is played as silence (counted), and only a stream that
runs far outside the buffer (a new source, a jump in the timestamps) makes it start
over.  60-100 ms covers the jitter of real trunks.

The buffer holds 16-bit linear audio: each accepted payload type maps to a decoder (see
:func:`modem.g711.decoder`); any other payload type -- RFC 4733 telephone-event,
comfort noise -- is ignored and counted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from modem.errors import ModemError

RTP_VERSION = 2
HEADER = struct.Struct("!BBHII")
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz: one tick of the buffer, one packet out
_WRAP = 1 << 32
SAMPLE_OCTETS = 2  # the buffer's audio is native-endian int16


class RtpError(ModemError):
    """A datagram that is not a well-formed RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 5.1); header extensions are kept as raw octets."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # (profile-defined id, data: whole 32-bit words)

    def encode(self) -> bytes:
        """The packet's octets (no padding)."""
        if not 0 <= self.payload_type < 128 or len(self.csrcs) > 15:
            raise RtpError(f"cannot encode payload type {self.payload_type} with {len(self.csrcs)} CSRCs")
        first = (RTP_VERSION << 6) | (0x10 if self.extension else 0) | len(self.csrcs)
        out = bytearray(HEADER.pack(first, self.payload_type | (0x80 if self.marker else 0),
                                    self.sequence & 0xFFFF, self.timestamp % _WRAP, self.ssrc % _WRAP))
        for csrc in self.csrcs:
            out += struct.pack("!I", csrc)
        if self.extension is not None:
            ident, data = self.extension
            if len(data) % 4:
                raise RtpError("an RTP header extension is whole 32-bit words")
            out += struct.pack("!HH", ident, len(data) // 4) + data
        return bytes(out + self.payload)


def decode_rtp(datagram: bytes) -> RtpPacket:
    """Parse one RTP packet; raises :class:`RtpError` for anything else (RTCP on the RTP
    port, a wrong version, lengths that do not add up)."""
    if len(datagram) < HEADER.size:
        raise RtpError(f"{len(datagram)} octets is shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = HEADER.unpack_from(datagram)
    if first >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {first >> 6}, not 2")
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:
        raise RtpError(f"an RTCP packet (type {second}) on the RTP port")
    pos = HEADER.size
    csrc_count = first & 0x0F
    if len(datagram) < pos + 4 * csrc_count:
        raise RtpError("RTP packet truncated in its CSRC list")
    csrcs = struct.unpack_from(f"!{csrc_count}I", datagram, pos)
    pos += 4 * csrc_count
    extension = None
    if first & 0x10:
        if len(datagram) < pos + 4:
            raise RtpError("RTP packet truncated in its header extension")
        ident, words = struct.unpack_from("!HH", datagram, pos)
        end = pos + 4 + 4 * words
        if len(datagram) < end:
            raise RtpError("RTP header extension longer than the packet")
        extension = (ident, datagram[pos + 4:end])
        pos = end
    end = len(datagram)
    if first & 0x20:
        padding = datagram[-1]
        if padding == 0 or end - padding < pos:
            raise RtpError(f"bad RTP padding count {padding}")
        end -= padding
    return RtpPacket(payload_type, sequence, timestamp, ssrc, datagram[pos:end], bool(second & 0x80),
                     tuple(csrcs), extension)


class RtpSender:
    """Numbers our outgoing packets: sequence +1 and timestamp + samples per packet, the
    marker on the first.  ``ssrc``, ``sequence`` and ``timestamp`` start values come from
    the owner (RFC 3550 wants them random; this module has no randomness)."""

    def __init__(self, payload_type: int, ssrc: int, *, sequence: int = 0, timestamp: int = 0) -> None:
        self.payload_type = payload_type
        self.ssrc = ssrc % _WRAP
        self.sequence = sequence & 0xFFFF
        self.timestamp = timestamp % _WRAP
        self.sent = 0

    def packet(self, payload: bytes) -> bytes:
        """The next packet carrying ``payload`` (G.711: one octet per sample)."""
        out = RtpPacket(self.payload_type, self.sequence, self.timestamp, self.ssrc, payload,
                        marker=self.sent == 0).encode()
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + len(payload)) % _WRAP
        self.sent += 1
        return out

    def skip(self, samples: int) -> None:
        """``samples`` of time passed without a packet: the next one's timestamp says so
        (the sequence number counts packets sent, so it does not jump)."""
        self.timestamp = (self.timestamp + samples) % _WRAP


def _signed(diff: int) -> int:
    """A 32-bit timestamp difference as a signed number."""
    diff %= _WRAP
    return diff - _WRAP if diff >= _WRAP // 2 else diff


@dataclass(slots=True)
class JitterStats:
    received: int = 0  # packets taken into the buffer
    played: int = 0  # frames played out with at least some received audio
    lost: int = 0  # frames played out as silence although the stream had started (gaps)
    late: int = 0  # packets that came after their time was played (dropped)
    duplicates: int = 0
    ignored: int = 0  # other payload types (telephone-event, comfort noise ...)
    overflows: int = 0  # packets dropped because the buffer ran too far ahead
    restarts: int = 0  # new source or a jump in the timestamps: the buffer started over


@dataclass(slots=True)
class _Chunk:
    start: int  # extended timestamp of the first sample
    audio: bytes  # int16 samples


@dataclass(slots=True)
class JitterBuffer:
    """A fixed-delay playout buffer, one 20 ms frame per :meth:`tick`.

    ``decoders`` maps each accepted payload type to a function from its payload to
    native int16 octets (one sample per payload octet for G.711).  Playout starts
    ``depth`` ticks after the first packet, at that packet's timestamp (or an earlier
    one that arrived meanwhile); then every tick plays the next ``frame`` samples by
    timestamp: what arrived, silence where nothing did.  ``max_ahead`` bounds how far
    (ticks) the stream may run ahead of playout: a packet beyond it starts the buffer over
    at that packet (what was buffered is stale);
    ``resync`` (samples) is the timestamp jump that makes the buffer start over.
    """

    decoders: Mapping[int, Callable[[bytes], bytes]]
    depth: int = 4  # ticks: 80 ms
    frame: int = FRAME_SAMPLES
    max_ahead: int = 50  # ticks: 1 s
    resync: int = 10 * SAMPLE_RATE  # a jump of 10 s or more is a new stream
    stats: JitterStats = field(default_factory=JitterStats)
    _chunks: dict[int, _Chunk] = field(default_factory=dict)
    _ssrc: int | None = None
    _ref: int = 0  # extended timestamp that ``_ref_wire`` stands for (unwrapping)
    _playout: int | None = None  # extended timestamp of the next sample to play
    _waited: int = 0  # ticks since the first packet, before playout starts
    _ended_at: int = 0  # extended timestamp just past the newest sample received
    gap: bool = False  # the last frame :meth:`tick` gave was a gap inside the stream (loss)

    @classmethod
    def for_depth(cls, decoders: Mapping[int, Callable[[bytes], bytes]], seconds: float,
                  frame: int = FRAME_SAMPLES) -> JitterBuffer:
        """A buffer of ``seconds`` playout delay (rounded to whole frames, at least one)."""
        ticks = max(1, round(seconds * SAMPLE_RATE / frame))
        return cls(decoders, depth=ticks, frame=frame)

    @property
    def playing(self) -> bool:
        return self._playout is not None

    def push(self, packet: RtpPacket) -> None:
        """Take one received packet."""
        decode = self.decoders.get(packet.payload_type)
        if decode is None:
            self.stats.ignored += 1
            return
        if not packet.payload:
            return
        if self._ssrc is None or packet.ssrc != self._ssrc:
            self._restart(packet)
        start = self._ref + _signed(packet.timestamp - self._ref)
        if self._playout is not None and abs(start - self._playout) >= self.resync:
            self._restart(packet)
            start = self._ref
        audio = decode(packet.payload)
        end = start + len(audio) // SAMPLE_OCTETS
        if self._playout is not None and end <= self._playout:
            self.stats.late += 1
            return
        if start in self._chunks:
            self.stats.duplicates += 1
            return
        limit = (self._playout if self._playout is not None else self._first()) + \
            (self.depth + self.max_ahead) * self.frame
        if end > limit:
            # The stream runs more than the buffer ahead of playout: what is buffered is
            # stale (a socket's backlog read at once, e.g. RTP that flowed while the call
            # was still deciding fax or voice or T.38), and playout, which advances at the
            # stream's own rate, would never catch up.  Start over at this packet.
            self.stats.overflows += 1
            self._restart(packet)
            start = self._ref
            end = start + len(audio) // SAMPLE_OCTETS
        if self._playout is not None and start > self._ended_at:
            # Frames already played as "the far end is quiet" lay inside the stream after
            # all: packets were lost there (a loss is only known once a later one comes).
            self.stats.lost += max(0, (min(start, self._playout) - self._ended_at) // self.frame)
        self._chunks[start] = _Chunk(start, audio)
        self._ref = start
        self._ended_at = max(self._ended_at, end)
        self.stats.received += 1

    def tick(self) -> bytes | None:
        """The next frame of audio (``frame`` int16 samples), or None while the buffer
        has not started playing (nothing received yet, or still filling).  A frame of
        which nothing arrived is silence, with :attr:`gap` set when it lies inside the
        stream (a lost packet, for a receiver that can conceal it) rather than after its
        end (the far end went quiet)."""
        self.gap = False
        if self._playout is None:
            if not self._chunks:
                return None
            self._waited += 1
            if self._waited <= self.depth:
                return None
            self._playout = self._first()
        begin, end = self._playout, self._playout + self.frame
        out = bytearray(self.frame * SAMPLE_OCTETS)
        heard = False
        for key in sorted(self._chunks):
            chunk = self._chunks[key]
            if chunk.start >= end:
                break
            length = len(chunk.audio) // SAMPLE_OCTETS
            lo, hi = max(begin, chunk.start), min(end, chunk.start + length)
            if lo < hi:
                out[(lo - begin) * SAMPLE_OCTETS:(hi - begin) * SAMPLE_OCTETS] = \
                    chunk.audio[(lo - chunk.start) * SAMPLE_OCTETS:(hi - chunk.start) * SAMPLE_OCTETS]
                heard = True
            if chunk.start + length <= end:
                del self._chunks[key]
        self._playout = end
        self.gap = not heard and (end <= self._ended_at or bool(self._chunks))
        if heard:
            self.stats.played += 1
        elif self.gap:
            self.stats.lost += 1  # a gap inside the stream, not the far end gone quiet
        return bytes(out)

    def skip(self, frames: int) -> None:
        """Let ``frames`` ticks' time pass unplayed (the player could not tick meanwhile):
        playout stays on the stream's timeline, and what was due meanwhile is dropped."""
        if self._playout is None:
            if self._chunks:
                self._waited += frames
            return
        self._playout += frames * self.frame
        for key in [k for k, c in self._chunks.items()
                    if c.start + len(c.audio) // SAMPLE_OCTETS <= self._playout]:
            del self._chunks[key]

    def buffered(self) -> int:
        """Samples received and not yet played."""
        return sum(len(c.audio) // SAMPLE_OCTETS for c in self._chunks.values())

    def _first(self) -> int:
        return min(self._chunks) if self._chunks else self._ref

    def _restart(self, packet: RtpPacket) -> None:
        if self._ssrc is not None:
            self.stats.restarts += 1
        self._ssrc = packet.ssrc
        self._chunks.clear()
        self._ref = packet.timestamp
        self._ended_at = packet.timestamp
        self._playout = None
        self._waited = 0


__all__ = [
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "JitterBuffer",
    "JitterStats",
    "RtpError",
    "RtpPacket",
    "RtpSender",
    "decode_rtp",
]
