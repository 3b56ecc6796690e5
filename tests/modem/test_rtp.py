"""RTP packets (RFC 3550) and the fixed jitter buffer for fax (modem.rtp), sans-IO."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modem import g711
from modem.rtp import FRAME_SAMPLES, JitterBuffer, RtpError, RtpPacket, RtpSender, decode_rtp


def widen(payload: bytes) -> bytes:
    """Test decoder: each payload octet becomes one int16 sample of the same value."""
    return np.frombuffer(payload, dtype=np.uint8).astype(np.int16).tobytes()


def frame_of(value: int, samples: int = FRAME_SAMPLES) -> bytes:
    return bytes([value]) * samples


def audio(value: int, samples: int = FRAME_SAMPLES) -> bytes:
    return widen(frame_of(value, samples))


SILENT = bytes(2 * FRAME_SAMPLES)


def packet(n: int, value: int | None = None, *, ts0: int = 1000, pt: int = 0, ssrc: int = 7,
           samples: int = FRAME_SAMPLES) -> RtpPacket:
    """The ``n``-th 20 ms packet of a stream, its samples all ``value`` (default n+1)."""
    return RtpPacket(pt, (100 + n) & 0xFFFF, (ts0 + n * samples) % (1 << 32), ssrc,
                     frame_of(n + 1 if value is None else value, samples))


def buffer(depth: int = 2) -> JitterBuffer:
    return JitterBuffer({0: widen, 8: widen}, depth=depth)


# --- packets -----------------------------------------------------------------------------

def test_round_trip_with_every_header_part() -> None:
    p = RtpPacket(8, 65535, 0xFFFFFFFF, 0x12345678, b"\xd5" * 160, marker=True, csrcs=(1, 2),
                  extension=(0xBEDE, b"\x01\x02\x03\x04"))
    data = p.encode()
    assert data[0] == 0x80 | 0x10 | 2 and data[1] == 0x80 | 8
    assert decode_rtp(data) == p


def test_padding_is_removed() -> None:
    data = bytearray(RtpPacket(0, 1, 2, 3, b"abc").encode() + b"\0\0\x03")
    data[0] |= 0x20
    assert decode_rtp(bytes(data)).payload == b"abc"


@pytest.mark.parametrize(("data", "why"), [
    (b"\x80\x00\x00", "shorter"),
    (b"\x40" + bytes(11), "version"),
    (bytes([0x80, 200]) + bytes(10), "RTCP"),
    (b"\x82" + bytes(11) + bytes(4), "CSRC"),
    (b"\x90" + bytes(11) + b"\x00\x00\x00\x05", "extension"),
    (b"\xa0" + bytes(11) + b"\x00", "padding"),
    (b"\xa0" + bytes(11) + b"ab\x09", "padding"),
])
def test_malformed_packets_raise(data: bytes, why: str) -> None:
    with pytest.raises(RtpError, match=why):
        decode_rtp(data)


@given(st.binary(max_size=64))
def test_garbage_never_crashes(data: bytes) -> None:
    with contextlib.suppress(RtpError):
        decode_rtp(data)


def test_sender_numbers_packets_and_marks_the_first() -> None:
    sender = RtpSender(0, ssrc=99, sequence=65535, timestamp=(1 << 32) - 160)
    first, second, third = (decode_rtp(sender.packet(b"\xff" * 160)) for _ in range(3))
    assert (first.sequence, second.sequence, third.sequence) == (65535, 0, 1)
    assert (first.timestamp, second.timestamp, third.timestamp) == ((1 << 32) - 160, 0, 160)
    assert first.marker and not second.marker and not third.marker
    assert {first.ssrc, second.ssrc} == {99} and sender.sent == 3


def test_sender_skipping_time_moves_the_timestamp_not_the_sequence() -> None:
    sender = RtpSender(0, ssrc=99, sequence=10, timestamp=(1 << 32) - 160)
    first = decode_rtp(sender.packet(b"\xff" * 160))
    sender.skip(3 * 160)
    second = decode_rtp(sender.packet(b"\xff" * 160))
    assert second.sequence == first.sequence + 1 and second.timestamp == 3 * 160


# --- jitter buffer -----------------------------------------------------------------------

def play(jb: JitterBuffer, ticks: int) -> list[bytes | None]:
    return [jb.tick() for _ in range(ticks)]


def test_nothing_plays_until_the_depth_has_passed() -> None:
    jb = buffer(depth=3)
    assert jb.tick() is None  # nothing received: not started
    jb.push(packet(0))
    assert play(jb, 3) == [None, None, None]
    assert jb.tick() == audio(1) and jb.playing


def test_in_order_stream_plays_every_frame_with_a_fixed_delay() -> None:
    jb = buffer(depth=2)
    out = []
    for n in range(10):
        jb.push(packet(n))
        out.append(jb.tick())
    assert out[:2] == [None, None]
    assert out[2:] == [audio(n + 1) for n in range(8)]
    assert jb.buffered() == 2 * FRAME_SAMPLES
    assert (jb.stats.received, jb.stats.played, jb.stats.lost, jb.stats.late) == (10, 8, 0, 0)


def test_reordered_packets_within_the_depth_are_put_back_in_order() -> None:
    jb = buffer(depth=2)
    for n in (1, 0, 3, 2, 5, 4):
        jb.push(packet(n))
    assert play(jb, 2) == [None, None]
    assert play(jb, 6) == [audio(n + 1) for n in range(6)]
    assert jb.stats.lost == 0


def test_a_lost_packet_is_a_gap_of_silence_and_counted() -> None:
    jb = buffer(depth=1)
    for n in (0, 1, 3):
        jb.push(packet(n))
    jb.tick()
    assert jb.tick() == audio(1) and not jb.gap
    assert jb.tick() == audio(2)
    assert jb.tick() == SILENT and jb.gap
    assert jb.tick() == audio(4) and not jb.gap
    assert jb.stats.lost == 1


def test_a_late_packet_is_dropped_and_counted() -> None:
    jb = buffer(depth=1)
    jb.push(packet(0))
    jb.push(packet(2))
    play(jb, 3)  # the wait, then frames 0 and 1 (a gap)
    jb.push(packet(1))
    assert jb.stats.late == 1
    assert jb.tick() == audio(3)


def test_duplicates_and_telephone_events_are_dropped() -> None:
    jb = buffer(depth=1)
    jb.push(packet(0))
    jb.push(packet(0))
    jb.push(RtpPacket(101, 5, 1000, 7, b"\x01\x0a\x00\xa0"))
    assert (jb.stats.duplicates, jb.stats.ignored, jb.stats.received) == (1, 1, 1)


def test_the_far_end_going_quiet_is_silence_not_loss() -> None:
    jb = buffer(depth=1)
    jb.push(packet(0))
    play(jb, 2)
    assert play(jb, 5) == [SILENT] * 5
    assert jb.stats.lost == 0 and not jb.gap


def test_timestamps_wrap_around() -> None:
    jb = buffer(depth=1)
    start = (1 << 32) - 2 * FRAME_SAMPLES
    for n in range(5):
        jb.push(packet(n, ts0=start))
    jb.tick()
    assert play(jb, 5) == [audio(n + 1) for n in range(5)]
    assert jb.stats.restarts == 0


def test_short_packets_are_joined_into_frames() -> None:
    jb = buffer(depth=1)
    half = FRAME_SAMPLES // 2
    for n in range(4):
        jb.push(packet(n, value=n + 1, samples=half))
    jb.tick()
    assert jb.tick() == audio(1, half) + audio(2, half)
    assert jb.tick() == audio(3, half) + audio(4, half)


def test_a_new_source_or_a_jump_starts_over() -> None:
    jb = buffer(depth=1)
    jb.push(packet(0))
    play(jb, 2)
    jb.push(packet(0, value=9, ssrc=8, ts0=5))  # a new SSRC
    assert jb.stats.restarts == 1 and not jb.playing
    assert play(jb, 2) == [None, audio(9)]
    jb.push(packet(1, value=5, ssrc=8, ts0=5 + 80 * 8000))  # 80 s ahead
    assert jb.stats.restarts == 2
    assert play(jb, 2) == [None, audio(5)]


def test_a_stream_far_ahead_of_playout_is_cut() -> None:
    jb = JitterBuffer({0: widen}, depth=1, max_ahead=3)
    jb.push(packet(0))
    play(jb, 2)
    for n in range(1, 10):
        jb.push(packet(n))
    assert jb.stats.overflows > 0 and jb.buffered() <= 5 * FRAME_SAMPLES


def test_a_backlog_read_at_once_does_not_leave_playout_behind_for_good() -> None:
    """Two seconds of RTP queued in the socket before the pump reads it (the far end sent
    while the call was still deciding fax, voice or T.38), then the live stream: playout
    starts over within the buffer's reach of the live edge and every later frame is
    heard (it used to stay behind, every live packet dropped as an overflow)."""
    jb = JitterBuffer({0: widen}, depth=4)
    backlog = 100
    def nth(n: int) -> RtpPacket:
        return packet(n, value=n % 250 + 1)

    for n in range(backlog):  # read in one go
        jb.push(nth(n))
    heard = []
    for n in range(backlog, backlog + 300):  # then one packet per tick, as sent
        jb.push(nth(n))
        heard.append(jb.tick())
    assert jb.stats.overflows > 0
    live = backlog + 299
    behind = next(k for k in range(jb.depth + jb.max_ahead + 1) if heard[-1] == audio((live - k) % 250 + 1))
    assert jb.depth <= behind <= jb.depth + jb.max_ahead
    assert all(frame is not None and frame != SILENT for frame in heard[-100:])


def test_depth_in_seconds_rounds_to_frames() -> None:
    assert JitterBuffer.for_depth({}, 0.08).depth == 4
    assert JitterBuffer.for_depth({}, 0.0).depth == 1


def test_g711_payloads_decode_through_the_codec() -> None:
    jb = JitterBuffer({8: g711.decoder("PCMA")}, depth=1)
    samples = np.linspace(-20000, 20000, FRAME_SAMPLES).astype(np.int16)
    jb.push(RtpPacket(8, 1, 0, 1, g711.encode(samples, "PCMA")))
    jb.tick()
    played = np.frombuffer(jb.tick() or b"", dtype=np.int16)
    assert np.all(np.abs(played.astype(int) - samples) <= np.abs(samples.astype(int)) // 16 + 16)
    assert struct.calcsize("h") * FRAME_SAMPLES == len(played.tobytes())


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=30, max_size=30),
       st.sets(st.integers(min_value=0, max_value=29), max_size=5),
       st.integers(min_value=0, max_value=(1 << 32) - 1))
def test_any_jitter_within_the_depth_plays_the_stream_in_order(
        delays: list[int], lost: set[int], ts0: int) -> None:
    """Packet n is sent at tick n and arrives ``delays[n]`` ticks later (< depth 4), some
    never: every frame plays at its time, in order, the lost ones as counted gaps."""
    jb = buffer(depth=4)
    arrivals: dict[int, list[int]] = {}
    for n, delay in enumerate(delays):
        if n not in lost:
            arrivals.setdefault(n + delay, []).append(n)
    played: list[bytes | None] = []
    for tick in range(len(delays) + 8):
        for n in arrivals.get(tick, []):
            jb.push(packet(n, ts0=ts0))
        played.append(jb.tick())
    first = min(n for n in range(len(delays)) if n not in lost)
    last = max(n for n in range(len(delays)) if n not in lost)
    frames = [f for f in played if f is not None]
    expected = [SILENT if n in lost else audio(n + 1) for n in range(first, len(delays))]
    assert frames[: len(expected)] == expected
    # gaps inside the stream are losses; after its last packet the far end is just quiet
    assert jb.stats.late == 0 and jb.stats.lost == len([n for n in lost if first < n < last])


def test_skipping_ticks_keeps_playout_on_the_stream_timeline() -> None:
    """A player starved for three ticks skips them: the frames due meanwhile are
    dropped and the next tick plays the frame due now, not one three ticks old."""
    jb = buffer(depth=1)
    for n in range(8):
        jb.push(packet(n))
    assert play(jb, 3) == [None, audio(1), audio(2)]
    jb.skip(3)
    assert jb.tick() == audio(6) and jb.buffered() == 2 * FRAME_SAMPLES
    assert (jb.stats.late, jb.stats.lost) == (0, 0)
    before = buffer(depth=2)
    before.push(packet(0))
    before.skip(1)  # still filling: the wait counts the skipped tick
    assert play(before, 2) == [None, audio(1)]
