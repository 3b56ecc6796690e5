"""UDPTL, the UDP transport of T.38 (T.38 clause 9.1), sans-IO.

A datagram is the ASN.1 ``UDPTLPacket`` in aligned PER::

    UDPTLPacket ::= SEQUENCE {
        seq-number          INTEGER (0..65535),
        primary-ifp-packet  TYPE-IDENTIFIER.&Type(IFPPacket),     -- an open type
        error-recovery      CHOICE {
            secondary-ifp-packets  SEQUENCE OF TYPE-IDENTIFIER.&Type(IFPPacket),
            fec-info               SEQUENCE {
                fec-npackets  INTEGER,
                fec-data      SEQUENCE OF OCTET STRING } } }

so on the wire: two octets of sequence number, the primary IFP behind a PER length
determinant, one octet whose top bit chooses the recovery (0 = redundancy, 1 = FEC; the
other seven bits are padding), then either a count and the secondary IFPs (each behind a
length determinant, the most recent first: the first secondary is packet seq-1), or the
FEC: ``fec-npackets`` (an unconstrained INTEGER: a length octet and the value) and a count
of parity entries.  In a packet with sequence number ``x``, ``fec-npackets`` = *span* and
*entries* parity strings, parity entry ``m`` is the XOR (each IFP zero-padded to the longest)
of the packets ``x + m - span*entries + j*entries`` for ``j`` in ``0..span-1``: the
``span*entries`` packets before ``x``, interleaved ``entries`` ways (the scheme spandsp,
Asterisk and Wireshark use).  A parity recovers one missing packet of its group; as there is
no length in it, an IFP recovered by FEC carries the group's longest length (trailing zero
octets that a PER decoder ignores).

This module works on IFP *bytes* and knows nothing of their structure (see
:mod:`modem.t38.ifp`).  Sequence numbers are tracked internally as unbounded "extended"
numbers, so the 65535 -> 0 wrap is invisible to the logic; stacks that wrap to 1 instead
of 0 are detected from their redundancy (their first secondary after the wrap repeats packet
65535) and their missing 0 is then not counted as lost.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from modem.errors import UdptlError

SEQ_MODULO = 65536
_HALF = SEQ_MODULO // 2
_FRAGMENT = 16384
RESTART_DISTANCE = 1024
"""A packet this far (or farther) behind the next expected one is not late but a sender that
restarted its numbering (a new media session): the decoder starts afresh from it."""
MAX_RECOVERY_WINDOW = 1024
"""FEC covering more packets than this (span x entries) is parsed but not used for repair."""
_KEEP = MAX_RECOVERY_WINDOW + 64


@dataclass(frozen=True)
class FecInfo:
    """The ``fec-info`` of a packet: ``npackets`` (the span) and the parity entries."""

    npackets: int
    data: tuple[bytes, ...]


@dataclass(frozen=True)
class UdptlPacket:
    """One decoded datagram. ``secondaries`` are most recent first (packet seq-1 first);
    ``fec`` is set instead when the packet carries FEC."""

    seq: int
    primary: bytes
    secondaries: tuple[bytes, ...] = ()
    fec: FecInfo | None = None


# ---------------------------------------------------------------- PER primitives


def _length_determinant(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < _FRAGMENT:
        return bytes((0x80 | n >> 8, n & 0xFF))
    raise ValueError(f"length {n} needs PER fragmentation")


def _put_octets(out: bytearray, data: bytes) -> None:
    """An open type / unconstrained OCTET STRING: length determinant (fragmented over 16K)
    and the octets."""
    pos = 0
    while len(data) - pos >= _FRAGMENT:
        blocks = min((len(data) - pos) // _FRAGMENT, 4)
        out.append(0xC0 | blocks)
        out += data[pos : pos + blocks * _FRAGMENT]
        pos += blocks * _FRAGMENT
    out += _length_determinant(len(data) - pos)
    out += data[pos:]


def _put_count(out: bytearray, n: int) -> None:
    out += _length_determinant(n)


def _put_integer(out: bytearray, value: int) -> None:
    """An unconstrained INTEGER: a length octet and the minimal two's complement octets."""
    size = max(1, (value.bit_length() + 8) // 8)
    out.append(size)
    out += value.to_bytes(size, "big", signed=True)


class _Reader:
    """A cursor over one datagram; every read raises :class:`UdptlError` past the end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise UdptlError(f"UDPTL datagram truncated in {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]

    def length(self, what: str) -> tuple[int, bool]:
        """A PER length determinant: (length, is_fragment)."""
        first = self.octet(what)
        if first < 0x80:
            return first, False
        if first < 0xC0:
            return (first & 0x3F) << 8 | self.octet(what), False
        blocks = first & 0x3F
        if not 1 <= blocks <= 4:
            raise UdptlError(f"UDPTL bad fragment length in {what}")
        return blocks * _FRAGMENT, True

    def octets(self, what: str) -> bytes:
        parts = []
        while True:
            n, more = self.length(what)
            parts.append(self.take(n, what))
            if not more:
                return b"".join(parts)

    def count(self, what: str) -> int:
        n, more = self.length(what)
        if more:
            raise UdptlError(f"UDPTL count in {what} too large")
        return n


# ---------------------------------------------------------------- packets


def encode_packet(packet: UdptlPacket) -> bytes:
    """The datagram for ``packet`` (FEC if ``packet.fec`` is set, else redundancy)."""
    if not 0 <= packet.seq < SEQ_MODULO:
        raise ValueError(f"sequence number {packet.seq} out of range")
    if not packet.primary:
        raise ValueError("the primary IFP cannot be empty")
    out = bytearray(packet.seq.to_bytes(2, "big"))
    _put_octets(out, packet.primary)
    if packet.fec is None:
        out.append(0x00)
        _put_count(out, len(packet.secondaries))
        for ifp in packet.secondaries:
            _put_octets(out, ifp)
    else:
        out.append(0x80)
        _put_integer(out, packet.fec.npackets)
        _put_count(out, len(packet.fec.data))
        for parity in packet.fec.data:
            _put_octets(out, parity)
    return bytes(out)


def decode_packet(datagram: bytes) -> UdptlPacket:
    """Parse one datagram; :class:`UdptlError` if it is malformed in any way (truncated,
    empty primary, trailing octets, absurd FEC parameters)."""
    r = _Reader(datagram)
    seq = int.from_bytes(r.take(2, "the sequence number"), "big")
    primary = r.octets("the primary IFP")
    if not primary:
        raise UdptlError("UDPTL primary IFP is empty")
    choice = r.octet("the error recovery")
    if choice & 0x80 == 0:
        n = r.count("the secondary count")
        secondaries = tuple(r.octets("a secondary IFP") for _ in range(n))
        fec = None
    else:
        size = r.octet("fec-npackets")
        if not 1 <= size <= 4:
            raise UdptlError(f"UDPTL fec-npackets of {size} octets")
        npackets = int.from_bytes(r.take(size, "fec-npackets"), "big", signed=True)
        if npackets < 0:
            raise UdptlError("UDPTL negative fec-npackets")
        n = r.count("the FEC count")
        fec = FecInfo(npackets, tuple(r.octets("FEC data") for _ in range(n)))
        secondaries = ()
    if r.pos != len(datagram):
        raise UdptlError(f"UDPTL datagram has {len(datagram) - r.pos} trailing octets")
    return UdptlPacket(seq, primary, secondaries, fec)


def _xor(parity: bytes, others: list[bytes]) -> bytes:
    """``parity`` XOR each of ``others`` (zero-padded, or cut, to the parity's length)."""
    n = len(parity)
    acc = int.from_bytes(parity, "big")
    for other in others:
        acc ^= int.from_bytes(other[:n].ljust(n, b"\0"), "big")
    return acc.to_bytes(n, "big")


# ---------------------------------------------------------------- sender


class UdptlEncoder:
    """Builds the datagrams of one UDPTL sender.

    ``redundancy``: how many previous IFPs each datagram repeats (most recent first).
    ``fec``: send parity instead, ``fec_entries`` parity strings per datagram each covering
    ``fec_span`` packets (interleaved; the first datagrams wind up smoothly as spandsp does).
    ``max_datagram``: the far end's maximum UDPTL datagram size in octets (its
    ``T38FaxMaxDatagram`` read as the whole UDPTL payload); secondaries (or parity entries),
    oldest first, are left out until the datagram fits.  The primary is never dropped: an
    IFP too big on its own is still sent (the terminal must size IFPs to fit).
    """

    def __init__(
        self,
        redundancy: int = 2,
        *,
        fec: bool = False,
        max_datagram: int | None = None,
        fec_span: int = 3,
        fec_entries: int = 3,
        first_seq: int = 0,
    ) -> None:
        if redundancy < 0 or fec_span < 1 or fec_entries < 0:
            raise ValueError("redundancy and FEC parameters must be non-negative (span >= 1)")
        self.redundancy = redundancy
        self.fec = fec
        self.max_datagram = max_datagram
        self.fec_span = fec_span
        self.fec_entries = fec_entries
        self.seq = first_seq % SEQ_MODULO
        """The sequence number of the next datagram."""
        depth = fec_span * fec_entries if fec else redundancy
        self._history: deque[bytes] = deque(maxlen=max(depth, 1))
        self._sent = 0

    def encode(self, ifp: bytes) -> bytes:
        """The next datagram, carrying ``ifp`` as its primary."""
        if not ifp:
            raise ValueError("an IFP cannot be empty")
        packet = self._fec_packet(ifp) if self.fec else self._redundant_packet(ifp)
        datagram = encode_packet(packet)
        self._history.append(ifp)
        self._sent += 1
        self.seq = (self.seq + 1) % SEQ_MODULO
        return datagram

    def _fits(self, packet: UdptlPacket) -> bool:
        return self.max_datagram is None or len(encode_packet(packet)) <= self.max_datagram

    def _redundant_packet(self, ifp: bytes) -> UdptlPacket:
        n = min(self.redundancy, len(self._history))
        secondaries = tuple(self._history[-1 - i] for i in range(n))
        packet = UdptlPacket(self.seq, ifp, secondaries)
        while secondaries and not self._fits(packet):
            secondaries = secondaries[:-1]
            packet = UdptlPacket(self.seq, ifp, secondaries)
        return packet

    def _fec_packet(self, ifp: bytes) -> UdptlPacket:
        span, entries = self.fec_span, self.fec_entries
        available = min(self._sent, len(self._history))
        if available < span * entries:
            entries = available // span
        while True:
            fec = FecInfo(span if entries else 0, self._parity(span, entries))
            packet = UdptlPacket(self.seq, ifp, fec=fec)
            if entries == 0 or self._fits(packet):
                return packet
            entries -= 1

    def _parity(self, span: int, entries: int) -> tuple[bytes, ...]:
        parities = []
        for m in range(entries):
            group = [self._history[-(span * entries - m - j * entries)] for j in range(span)]
            longest = max(len(g) for g in group)
            parities.append(_xor(bytes(longest), group))
        return tuple(parities)


# ---------------------------------------------------------------- receiver


class UdptlDecoder:
    """Turns received datagrams back into the sender's IFPs, in order.

    Each :meth:`decode` returns the IFPs that became deliverable: packets missing before
    this one that its redundancy or FEC can rebuild, then its primary.  Missing packets that
    cannot be rebuilt by then are skipped and counted in :attr:`lost` (T.38 is real time: a
    later datagram never waits for an earlier one).  Duplicates and late packets are dropped
    (:attr:`dropped`).  A packet :data:`RESTART_DISTANCE` or more behind is taken as the
    sender starting over.  The first packet starts the stream at 0 when its number is small
    (the usual start, so packets lost before it count), else at itself.
    """

    def __init__(self) -> None:
        self.lost = 0
        self.dropped = 0
        self.recovered = 0
        self._expected: int | None = None
        self._known: dict[int, bytes] = {}
        self._skip_zero = False

    def reset(self) -> None:
        """Forget the stream (a new media session); the counters are kept."""
        self._expected = None
        self._known.clear()
        self._skip_zero = False

    def decode(self, datagram: bytes) -> list[bytes]:
        """Feed one datagram; raises :class:`UdptlError` (state unchanged) if malformed."""
        packet = decode_packet(datagram)
        if self._expected is None:
            x = self._start(packet)
        else:
            x = self._extend(packet.seq)
            if x < self._expected:
                if self._expected - x < RESTART_DISTANCE:
                    self.dropped += 1
                    return []
                self.reset()
                x = self._start(packet)
        assert self._expected is not None
        self._detect_wrap_to_one(x, packet)
        self._recover(x, packet)
        out: list[bytes] = []
        if x > self._expected:
            gap = range(self._expected, x)
            found = (
                [y for y in gap if y in self._known]
                if len(gap) < 64
                else sorted(y for y in self._known if self._expected <= y < x)
            )
            self.lost += len(gap) - self._holes(self._expected, x) - len(found)
            out.extend(self._known[y] for y in found)
        out.append(packet.primary)
        self._known[x] = packet.primary
        self._expected = self._normalise(x + 1)
        if len(self._known) > 2 * _KEEP:
            self._known = {y: v for y, v in self._known.items() if y > x - _KEEP}
        return out

    # -- sequence numbers

    def _start(self, packet: UdptlPacket) -> int:
        x = packet.seq
        self._expected = 0 if x < 64 else x - len(packet.secondaries)
        return x

    def _extend(self, seq: int) -> int:
        """The extended number of ``seq``: the one nearest the next expected packet."""
        assert self._expected is not None
        diff = (seq - self._expected) % SEQ_MODULO
        return self._expected + diff - (SEQ_MODULO if diff >= _HALF else 0)

    def _normalise(self, y: int) -> int:
        """Step over the number 0 of a sender that wraps to 1."""
        return y + 1 if self._skip_zero and y > 0 and y % SEQ_MODULO == 0 else y

    def _holes(self, a: int, b: int) -> int:
        """How many numbers in [a, b) a wrap-to-1 sender never uses."""
        if not self._skip_zero or b <= 1:
            return 0
        return (b - 1) // SEQ_MODULO - (max(a, 1) - 1) // SEQ_MODULO

    def _previous(self, x: int, n: int) -> int:
        """The extended number the sender used ``n`` packets before ``x``."""
        if not self._skip_zero:
            return x - n
        index = x - x // SEQ_MODULO - n  # the sender's count of packets, holes removed
        return index + (max(index - 1, 0) // (SEQ_MODULO - 1))

    def _detect_wrap_to_one(self, x: int, packet: UdptlPacket) -> None:
        """A sender going 65535 -> 1 repeats packet 65535 as its first secondary where a
        sender going 65535 -> 0 would repeat packet 0 (the first secondary of a packet is
        always the one the sender sent just before it)."""
        if self._skip_zero or x <= SEQ_MODULO or x % SEQ_MODULO != 1 or self._expected != x - 1:
            return
        sec = packet.secondaries
        if not sec or self._known.get(x - 2) != sec[0]:
            return
        if len(sec) > 1 and x - 3 in self._known and self._known[x - 3] != sec[1]:
            return
        self._skip_zero = True
        self._expected = x

    # -- recovery

    def _recover(self, x: int, packet: UdptlPacket) -> None:
        assert self._expected is not None
        if x == self._expected:
            return
        for i, ifp in enumerate(packet.secondaries):
            y = self._previous(x, i + 1)
            if y < self._expected:
                break
            if ifp and y not in self._known:
                self._known[y] = ifp
                self.recovered += 1
        if packet.fec is None:
            return
        span, entries = packet.fec.npackets, len(packet.fec.data)
        if span * entries > MAX_RECOVERY_WINDOW:
            return
        for m, parity in enumerate(packet.fec.data):
            group = [self._previous(x, span * entries - m - j * entries) for j in range(span)]
            missing = [y for y in group if y not in self._known]
            if len(missing) == 1 and missing[0] >= self._expected and parity:
                others = [self._known[y] for y in group if y != missing[0]]
                self._known[missing[0]] = _xor(parity, others)
                self.recovered += 1
