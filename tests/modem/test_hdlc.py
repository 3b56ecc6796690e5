"""HDLC helpers: FCS-16 vectors, frames, bit reversal, bit stuffing."""

from __future__ import annotations

import hashlib
import random

import pytest

from modem.errors import HDLCError
from modem.hdlc import (
    BITREV,
    FCF,
    HdlcDeframer,
    bit_reverse,
    build_frame,
    fcs16,
    fcs_bytes,
    fcs_ok,
    hdlc_decode,
    hdlc_encode,
    parse_frame,
    parse_frame_with_fcs,
)
from modem.sim.line import HdlcBitDecoder, HdlcBitEncoder


def test_fcs16_known_vectors() -> None:
    # CRC-16/X-25 (the HDLC FCS): check value of "123456789" and of the empty string
    assert fcs16(b"123456789") == 0x906E
    assert fcs16(b"") == 0x0000
    assert fcs16(b"\x00") == 0xF078  # independent reference (reveng catalogue X-25)
    assert fcs_bytes(b"123456789") == b"\x6e\x90"  # low octet first on the line


def test_fcs_on_a_real_t30_frame() -> None:
    # A DCN frame as sent by efax (captured from its log): ff c8 df 59 6f is reversed
    captured = bit_reverse(bytes.fromhex("ffc8df596f"))
    assert fcs_ok(captured)
    assert parse_frame_with_fcs(captured).name == "DCN"


def test_good_fcs_residue_and_corruption() -> None:
    frame = build_frame(FCF.DIS, bytes.fromhex("00ce f400".replace(" ", "")))
    wire = frame + fcs_bytes(frame)
    assert fcs_ok(wire)
    assert not fcs_ok(wire[:-1] + bytes([wire[-1] ^ 1]))
    with pytest.raises(HDLCError):
        parse_frame_with_fcs(wire[:3] + bytes([wire[3] ^ 0xFF]) + wire[4:])


def test_bitrev_table() -> None:
    assert BITREV[0x01] == 0x80 and BITREV[0x80] == 0x01 and BITREV[0xF0] == 0x0F
    assert all(BITREV[BITREV[i]] == i for i in range(256))
    assert bit_reverse(b"\x13\xc8") == b"\xc8\x13"


def test_frame_build_and_parse_with_x_bit() -> None:
    raw = build_frame(FCF.DCS, b"\x00\x46", final=True, x=True)
    assert raw == bytes([0xFF, 0x13, 0x83, 0x00, 0x46])
    f = parse_frame(raw)
    assert f.fcf == FCF.DCS and f.x and f.final and f.fif == b"\x00\x46" and f.name == "DCS"
    assert parse_frame(build_frame(FCF.TSI, b"x", final=False)).final is False
    assert parse_frame(bytes([0xFF, 0x13, 0x81])).name == "DTC"  # DIS code with X set
    assert parse_frame(bytes([0xFF, 0x13, 0x80])).name == "DIS"
    for bad in (b"\xff\x13", b"\xfe\x13\x80", b"\xff\x07\x80"):
        with pytest.raises(HDLCError):
            parse_frame(bad)


def test_fcf_values_follow_t30_bit_strings() -> None:
    # T.30 writes FCFs in transmission order (first bit left); octets are sent LSB first
    def octet(bits: str) -> int:
        return sum(1 << i for i, c in enumerate(bits.replace(" ", "")) if c == "1")

    assert octet("0000 0001") == FCF.DIS
    assert octet("0100 0001") == FCF.DCS
    assert octet("0111 0010") == FCF.MPS
    assert octet("0111 0100") == FCF.EOP
    assert octet("0011 0001") == FCF.MCF
    assert octet("0011 0010") == FCF.RTN
    assert octet("0101 1111") == FCF.DCN
    assert octet("0111 1101") == FCF.PPS
    assert octet("0011 1101") == FCF.PPR


def test_bit_stuffing_round_trip() -> None:
    frames = [build_frame(FCF.FCD, bytes([i]) + bytes([0xFF, 0x7E, 0x1F, 0xF8] * 16), final=False)
              for i in range(5)]
    stream = hdlc_encode(frames, preamble_flags=3)
    assert hdlc_decode(stream) == frames
    # no six ones in a row inside the stream apart from flags
    bits = "".join(f"{b:08b}"[::-1] for b in stream)
    assert "1111111" not in bits


def test_bit_stuffing_detects_damage() -> None:
    frames = [build_frame(FCF.FCD, bytes([i]) + bytes(range(64)), final=False) for i in range(3)]
    stream = bytearray(hdlc_encode(frames))
    stream[len(stream) // 2] ^= 0x10  # one bit error in the middle frame
    decoded = hdlc_decode(bytes(stream))
    assert decoded[0] == frames[0] and decoded[-1] == frames[2]
    assert None in decoded


# --- the simulator's streaming codec is modem.hdlc's stuffing and deframing ------------------


def _sample_frames() -> list[bytes]:
    rng = random.Random(1234)
    return [bytes(rng.choice((0xFF, 0x7E, 0x3F, rng.randrange(256))) for _ in range(n))
            for n in (4, 64, 256, 260, 7)]


def test_streaming_encoder_is_byte_exact_with_the_former_table_coder() -> None:
    # The digest is of what the simulator's own table-driven encoder (before it reused
    # modem.hdlc) produced for this very sequence; frame 3 goes out with a bad FCS.
    enc = HdlcBitEncoder()
    out = enc.flags(8)
    for i, f in enumerate(_sample_frames()):
        out += enc.frame(f, i != 3) + enc.flags(1)
    out += enc.flush()
    assert len(out) == 684
    assert hashlib.sha256(out).hexdigest() == (
        "a93815025f9cbc71a16c096551f60bff09eb35c28f9a79a2a20a8f911f29f21b")


def test_streaming_encoder_matches_hdlc_encode() -> None:
    frames = _sample_frames()
    enc = HdlcBitEncoder()
    pieces = enc.flags(3) + b"".join(enc.frame(f) for f in frames) + enc.flush()
    whole = hdlc_encode(frames, preamble_flags=3, postamble_flags=3)
    assert pieces[:-1] == whole[:-1]  # only the idle bits after the last flag may differ
    assert hdlc_decode(pieces) == hdlc_decode(whole) == frames


@pytest.mark.parametrize("piece", [1, 7, 37, 90, 4096])
def test_deframer_in_pieces_matches_hdlc_decode(piece: int) -> None:
    frames = _sample_frames()
    rng = random.Random(piece)
    enc = HdlcBitEncoder()
    # noise without flags first (a frame of noise might not be whole octets: hdlc_decode
    # gives None for it, the deframer leaves it out)
    stream = bytes(rng.choice((0x00, 0x55, 0xAA)) for _ in range(21)) + enc.flags(8)
    for i, f in enumerate(frames):
        stream += enc.frame(f, i != 3) + enc.flags(1)
    stream += enc.flush() + b"\xff" * 3
    damaged = bytearray(stream)
    damaged[200] ^= 0x10  # a bit error in frame 2
    for data in (stream, bytes(damaged)):
        dec, got = HdlcBitDecoder(), []
        for i in range(0, len(data), piece):
            got += dec.feed(data[i:i + piece])
        assert [p if ok else None for p, ok in got] == hdlc_decode(data)
        if data is stream:
            assert got == [(f, i != 3) for i, f in enumerate(frames)]


def test_deframer_drops_a_runaway_frame_and_recovers() -> None:
    dec = HdlcDeframer(max_octets=300)
    enc = HdlcBitEncoder()
    assert dec.feed(enc.flags(2) + bytes(range(256)) * 4) == []  # no closing flag
    frame = b"\xff\x13\x84"
    assert dec.feed(enc.flags(1) + enc.frame(frame) + enc.flush()) == [(frame, True)]
