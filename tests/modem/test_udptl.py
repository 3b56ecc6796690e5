"""UDPTL (T.38 clause 9.1): encoding, redundancy and FEC recovery, ordering, wrap, fuzzing,
and tshark's T.38 dissector as an independent decoder."""

from __future__ import annotations

import contextlib
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from modem.errors import ModemError, UdptlError
from modem.t38.udptl import (
    FecInfo,
    UdptlDecoder,
    UdptlEncoder,
    UdptlPacket,
    decode_packet,
    encode_packet,
)

# Real IFPs (T.38 1998 form, aligned PER, as spandsp writes them): indicators are one octet
# (index << 1); data packets are 0xC0 | type << 1, a field count, then the fields.
NO_SIGNAL, CNG, CED, V21_PREAMBLE = b"\x00", b"\x02", b"\x04", b"\x06"
HDLC_DIS = bytes([0xC0, 0x01, 0x80, 0x00, 0x02, 0xFF, 0x13, 0x80])  # v21 hdlc-data "ff 13 80"
HDLC_FCS_OK = bytes([0xC0, 0x01, 0x20])  # v21 hdlc-fcs-OK, no data
IFPS = [NO_SIGNAL, CNG, CED, V21_PREAMBLE, HDLC_DIS, HDLC_FCS_OK]


def ifp(i: int) -> bytes:
    """A distinct payload per index (UDPTL does not look inside IFPs)."""
    return i.to_bytes(4, "big") + bytes(i % 7)


def run(enc: UdptlEncoder, dec: UdptlDecoder, n: int, drop: set[int]) -> list[bytes]:
    out: list[bytes] = []
    for i in range(n):
        datagram = enc.encode(ifp(i))
        if i not in drop:
            out += dec.decode(datagram)
    return out


# ---------------------------------------------------------------- wire format


def test_redundancy_wire_format_matches_spandsp_layout() -> None:
    enc = UdptlEncoder(redundancy=2)
    assert enc.encode(CNG) == bytes.fromhex("0000 0102 00 00")
    assert enc.encode(CED) == bytes.fromhex("0001 0104 00 01 0102")
    # most recent first
    assert enc.encode(V21_PREAMBLE) == bytes.fromhex("0002 0106 00 02 0104 0102")
    assert enc.encode(NO_SIGNAL) == bytes.fromhex("0003 0100 00 02 0106 0104")


def test_fec_wire_format() -> None:
    datagram = encode_packet(UdptlPacket(7, b"\x02", fec=FecInfo(3, (b"\x01\x02", b"\x03"))))
    assert datagram == bytes.fromhex("0007 0102 80 0103 02 020102 0103")
    assert decode_packet(datagram) == UdptlPacket(7, b"\x02", fec=FecInfo(3, (b"\x01\x02", b"\x03")))


def test_long_lengths_use_two_octet_and_fragmented_determinants() -> None:
    for size in (127, 128, 300, 16383, 16384, 40000, 70000):
        packet = UdptlPacket(65535, bytes(range(256)) * (size // 256) + bytes(size % 256), (b"\x06",))
        datagram = encode_packet(packet)
        assert decode_packet(datagram) == packet
    assert encode_packet(UdptlPacket(1, bytes(300)))[2:4] == bytes([0x81, 0x2C])


def test_padding_bits_of_the_recovery_choice_are_ignored() -> None:
    assert decode_packet(bytes.fromhex("0000 0102 7f 00")).secondaries == ()
    assert decode_packet(bytes.fromhex("0000 0102 ff 0101 00")).fec == FecInfo(1, ())


@pytest.mark.parametrize(
    "hexdata",
    [
        "",
        "00",
        "0000",
        "000000",  # empty primary
        "0000 0102",  # no recovery choice
        "0000 0102 00",  # no count
        "0000 0102 00 01",  # count without secondary
        "0000 0102 00 01 0203",  # secondary short
        "0000 0102 00 00 ff",  # trailing octet
        "0000 0102 80 00",  # fec-npackets of zero octets
        "0000 0102 80 01ff 00",  # negative fec-npackets
        "0000 0102 80 0103 01 05",  # fec data short
        "0000 c5",  # fragment of 5 x 16K
        "0000 0102 00 c1",  # fragmented count
    ],
)
def test_malformed_datagrams_raise_udptl_error(hexdata: str) -> None:
    with pytest.raises(UdptlError):
        decode_packet(bytes.fromhex(hexdata))
    assert issubclass(UdptlError, ModemError)


# ---------------------------------------------------------------- redundancy


def test_in_order_delivery_without_loss() -> None:
    enc, dec = UdptlEncoder(redundancy=3), UdptlDecoder()
    assert run(enc, dec, 50, set()) == [ifp(i) for i in range(50)]
    assert dec.lost == 0


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_redundancy_recovers_bursts_up_to_its_depth(depth: int) -> None:
    drop = {10, 20, 21, 30, 31, 32, 40, 41, 42, 43, 44, 45}
    enc, dec = UdptlEncoder(redundancy=depth), UdptlDecoder()
    got = run(enc, dec, 60, drop)
    # a burst of b losses is fully recovered when b <= depth, else the oldest b-depth are lost
    expect_lost = sum(max(0, b - depth) for b in (1, 2, 3, 6))
    assert dec.lost == expect_lost
    assert len(got) == 60 - expect_lost
    assert got == sorted(got)  # in order (ifp(i) sorts by i)
    assert len(set(got)) == len(got)


def test_no_redundancy_counts_every_loss() -> None:
    enc, dec = UdptlEncoder(redundancy=0), UdptlDecoder()
    got = run(enc, dec, 20, {3, 7, 8})
    assert dec.lost == 3
    assert got == [ifp(i) for i in range(20) if i not in {3, 7, 8}]


def test_duplicates_and_late_packets_are_dropped() -> None:
    enc, dec = UdptlEncoder(redundancy=1), UdptlDecoder()
    d = [enc.encode(ifp(i)) for i in range(6)]
    assert dec.decode(d[0]) == [ifp(0)]
    assert dec.decode(d[0]) == []
    assert dec.decode(d[3]) == [ifp(2), ifp(3)]  # 1 lost, 2 from redundancy
    assert dec.lost == 1
    assert dec.decode(d[1]) == []  # late: already given up on
    assert dec.decode(d[2]) == []
    assert dec.decode(d[4]) == [ifp(4)]
    assert dec.dropped == 3


def test_random_loss_delivers_an_ordered_subsequence() -> None:
    rng = random.Random(7)
    for depth in (0, 1, 2, 3):
        enc, dec = UdptlEncoder(redundancy=depth), UdptlDecoder()
        drop = {i for i in range(2000) if rng.random() < 0.1}
        got = run(enc, dec, 2000, drop - {1999})
        assert got == sorted(set(got))
        assert len(got) + dec.lost == 2000
        if depth >= 2:
            assert dec.lost < 20


def test_max_datagram_drops_oldest_secondaries_never_the_primary() -> None:
    enc = UdptlEncoder(redundancy=3, max_datagram=31)  # 2 + 9 + 1 + 1 + 2 x 9
    for i in range(3):
        enc.encode(bytes([i + 1]) * 8)
    datagram = enc.encode(bytes([9]) * 8)
    packet = decode_packet(datagram)
    assert len(datagram) == 31
    assert packet.primary == bytes([9]) * 8
    assert packet.secondaries == (bytes([3]) * 8, bytes([2]) * 8)  # the oldest went first
    big = enc.encode(bytes(40))
    assert decode_packet(big).primary == bytes(40)
    assert decode_packet(big).secondaries == ()


# ---------------------------------------------------------------- FEC


@pytest.mark.parametrize(("span", "entries"), [(1, 1), (2, 2), (3, 3), (4, 2)])
def test_fec_recovers_single_losses(span: int, entries: int) -> None:
    enc, dec = UdptlEncoder(fec=True, fec_span=span, fec_entries=entries), UdptlDecoder()
    drop = {30, 60, 61} if entries >= 2 else {30, 60}
    got = run(enc, dec, 100, drop)
    assert dec.lost == 0
    # an IFP rebuilt from parity carries its group's longest length (zero padding)
    assert [g[:4] for g in got] == [ifp(i)[:4] for i in range(100)]
    for i, g in enumerate(got):
        assert g.rstrip(b"\0") == ifp(i).rstrip(b"\0")


def test_fec_wind_up_and_max_datagram() -> None:
    enc = UdptlEncoder(fec=True, fec_span=2, fec_entries=3)
    sizes = [len(decode_packet(enc.encode(ifp(i))).fec.data) for i in range(8)]  # type: ignore[union-attr]
    assert sizes == [0, 0, 1, 1, 2, 2, 3, 3]
    enc = UdptlEncoder(fec=True, fec_span=2, fec_entries=3, max_datagram=30)
    for i in range(10):
        datagram = enc.encode(ifp(i))
        assert len(datagram) <= 30 or not decode_packet(datagram).fec.data  # type: ignore[union-attr]


def test_fec_two_losses_in_one_group_are_lost_not_invented() -> None:
    enc, dec = UdptlEncoder(fec=True, fec_span=3, fec_entries=1), UdptlDecoder()
    got = run(enc, dec, 40, {20, 21})
    assert dec.lost == 2  # packet 22's parity covers 19, 20, 21: two unknowns, no repair
    assert [g[:4] for g in got] == [ifp(i)[:4] for i in range(40) if i not in {20, 21}]


# ---------------------------------------------------------------- sequence numbers


def test_wrap_at_65536_with_loss_across_the_wrap() -> None:
    enc, dec = UdptlEncoder(redundancy=2, first_seq=65530), UdptlDecoder()
    got = run(enc, dec, 20, {5, 6})  # seq 65535 and 0 lost
    assert got == [ifp(i) for i in range(20)]
    assert dec.lost == 0


def test_wrap_without_redundancy_counts_one_loss() -> None:
    enc, dec = UdptlEncoder(redundancy=0, first_seq=65534), UdptlDecoder()
    got = run(enc, dec, 5, {2})  # seq 0 lost
    assert dec.lost == 1 and len(got) == 4


def _wrap_to_one(depth: int, start: int, n: int, drop: set[int]) -> tuple[list[bytes], UdptlDecoder]:
    """A sender whose numbers go ... 65534, 65535, 1, 2 (never 0 again)."""
    dec = UdptlDecoder()
    history: list[bytes] = []
    seq = start
    got: list[bytes] = []
    for i in range(n):
        packet = UdptlPacket(seq, ifp(i), tuple(reversed(history[-depth:])) if depth else ())
        history.append(ifp(i))
        if i not in drop:
            got += dec.decode(encode_packet(packet))
        seq = 1 if seq == 65535 else seq + 1
    return got, dec


def test_stack_wrapping_to_one_is_detected() -> None:
    got, dec = _wrap_to_one(2, 65530, 30, set())
    assert got == [ifp(i) for i in range(30)]
    assert dec.lost == 0


def test_stack_wrapping_to_one_recovers_across_the_wrap_after_detection() -> None:
    # two wraps: the first teaches the decoder, losses across the second are recovered
    n = 65536 + 20
    got, dec = _wrap_to_one(3, 65530, n, {65540, 65541})
    assert dec.lost == 0
    assert got == [ifp(i) for i in range(n)]


def test_restarted_sender_is_followed() -> None:
    dec = UdptlDecoder()
    enc = UdptlEncoder(redundancy=1, first_seq=5000)
    for i in range(5):
        dec.decode(enc.encode(ifp(i)))
    enc2 = UdptlEncoder(redundancy=1)  # starts again at 0
    assert dec.decode(enc2.encode(ifp(100))) == [ifp(100)]
    assert dec.decode(enc2.encode(ifp(101))) == [ifp(101)]


def test_first_packet_far_from_zero_starts_the_stream() -> None:
    dec = UdptlDecoder()
    enc = UdptlEncoder(redundancy=2, first_seq=40000)
    enc.encode(ifp(0))
    assert dec.decode(enc.encode(ifp(1))) == [ifp(0), ifp(1)]
    assert dec.lost == 0


# ---------------------------------------------------------------- fuzzing


def test_fuzz_random_bytes_only_raise_udptl_error() -> None:
    rng = random.Random(16)
    dec = UdptlDecoder()
    for _ in range(20000):
        data = rng.randbytes(rng.randrange(0, 40))
        with contextlib.suppress(UdptlError):
            dec.decode(data)


def test_fuzz_truncations_and_bit_flips_of_valid_datagrams() -> None:
    rng = random.Random(38)
    for fec in (False, True):
        enc = UdptlEncoder(redundancy=3, fec=fec, fec_span=2, fec_entries=2)
        dec = UdptlDecoder()
        for i in range(300):
            datagram = enc.encode(IFPS[i % len(IFPS)] + rng.randbytes(rng.randrange(0, 200)))
            for cut in range(len(datagram)):
                with pytest.raises(UdptlError):
                    decode_packet(datagram[:cut])
            flipped = bytearray(datagram)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            with contextlib.suppress(UdptlError):
                dec.decode(bytes(flipped))
            dec.decode(datagram)


# ---------------------------------------------------------------- tshark


def write_pcap(path: Path, payloads: list[bytes], port: int) -> None:
    """A raw-IPv4 pcap of UDP datagrams to ``port`` (UDP checksum 0: not computed)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
    for i, payload in enumerate(payloads):
        udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
        lo = b"\x7f\0\0\1"
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, lo, lo)
        out += struct.pack("<IIII", 1000 + i, 0, len(ip) + len(udp), len(ip) + len(udp)) + ip + udp
    path.write_bytes(bytes(out))


def tshark(path: Path, *args: str) -> str:
    cmd = ["tshark", "-r", str(path), "-d", "udp.port==5004,t38", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("fec", [False, True])
def test_tshark_decodes_our_datagrams_without_malformed_packets(tmp_path: Path, fec: bool) -> None:
    enc = UdptlEncoder(redundancy=3, fec=fec, fec_span=2, fec_entries=2)
    path = tmp_path / "udptl.pcap"
    write_pcap(path, [enc.encode(p) for p in IFPS * 3], 5004)
    expert = tshark(path, "-q", "-z", "expert")
    assert "Malformed" not in expert and "Error" not in expert and "Warning" not in expert
    fields = ["-T", "fields", "-E", "separator=;", "-e", "t38.seq_number"]
    fields += ["-e", "t38.fec_npackets", "-e", "t38.fec_data"] if fec else ["-e", "t38.secondary_ifp_packets"]
    rows = [line.split(";") for line in tshark(path, *fields).splitlines()]
    assert [int(r[0]) for r in rows] == list(range(18))
    if fec:
        assert [r[2] for r in rows[:6]] == ["0", "0", "1", "1", "2", "2"]
        assert rows[10][1] == "2"
    else:
        assert [int(r[1]) for r in rows[:5]] == [0, 1, 2, 3, 3]
    verbose = tshark(path, "-V")
    assert "t30-indicator: v21-preamble (3)" in verbose and "hdlc-fcs-OK" in verbose
