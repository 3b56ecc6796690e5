"""spandsp remote fax machines on the exchange, and the line codecs of the T.38 bridge."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from modem.hdlc import fcs_bytes
from modem.sim import SimExchange, build_exchange
from modem.sim.line import (
    FCF_MCF,
    FCF_PPR,
    FCF_RTN,
    HdlcBitDecoder,
    HdlcBitEncoder,
    bit_reverse,
    flip_bits,
)
from modem.sim.spandsp import FaxSession, SpandspFax
from tests.modem.sim.conftest import needs_spandsp, tiff_bitmap

pytestmark = needs_spandsp


def test_fcs16_and_bit_reverse() -> None:
    assert fcs_bytes(b"123456789") == bytes((0x6E, 0x90))  # CRC-16/X.25 check value 0x906E
    assert bit_reverse(b"\x01\x80\x0f") == b"\x80\x01\xf0"


def test_hdlc_bit_codec_round_trip() -> None:
    rng = random.Random(5)
    frames = [bytes([0xFF, 0x03, 0x06]) + bytes(rng.randrange(256) for _ in range(n))
              for n in (0, 1, 64, 256)]
    enc = HdlcBitEncoder()
    stream = enc.flags(4) + b"".join(enc.frame(f) for f in frames)
    stream += enc.frame(b"\xff\x03\x86\x7e\x7e", good_fcs=False) + enc.flush()
    assert b"\x7e" in stream[:4]  # flags are 0x7E in either bit order
    dec = HdlcBitDecoder()
    got = []
    for i in range(0, len(stream), 7):  # fed in odd-sized pieces
        got.extend(dec.feed(stream[i : i + 7]))
    assert got[:4] == [(f, True) for f in frames]
    assert got[4] == (b"\xff\x03\x86\x7e\x7e", False)


def test_flip_bits_rate() -> None:
    data, flips = flip_bits(bytes(100_000), 1e-3, random.Random(1))
    assert 650 < flips < 950  # 800 expected
    assert sum(bin(b).count("1") for b in data) == flips


def _send(ex: SimExchange, page: Path, ecm: bool) -> tuple[SpandspFax, FaxSession, FaxSession]:
    rx = ex.add_remote("+15550110", "receiver", ecm=ecm, ident="RECEIVER")
    tx = ex.add_remote("+15550120", "sender", ecm=ecm, ident="SENDER")
    assert isinstance(rx, SpandspFax) and isinstance(tx, SpandspFax)
    sent = tx.send("+1 555 0110", page)
    assert sent.done.wait(60), "sender never finished"
    got = rx.wait_session(30)
    assert got is not None
    return rx, sent, got


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_spandsp_to_spandsp(page_tiff: Path, ecm: bool) -> None:
    with build_exchange(speed=40) as ex:
        _rx, sent, got = _send(ex, page_tiff, ecm)
        assert sent.ok, sent.completion_text
        assert got.ok, got.completion_text
        assert (sent.pages, got.pages) == (1, 1)
        assert got.remote_ident == "SENDER" and sent.remote_ident == "RECEIVER"
        assert got.ecm is ecm and got.bit_rate == 14400
        assert got.tiff is not None
        sent_px, got_px = tiff_bitmap(page_tiff), tiff_bitmap(got.tiff)
        assert got_px.shape == sent_px.shape
        assert (got_px == sent_px).all()
        call = ex.calls[-1]
        page = [c for c in call.carriers if c.mod == 146]
        assert len(page) == 1 and page[0].octets > 10_000
        # the page carrier took (at least) the time its bits need at 14,400 bit/s, in
        # simulated seconds, however fast the wall clock ran
        assert page[0].data_start is not None and page[0].data_end is not None
        span = page[0].data_end - page[0].data_start
        assert span == pytest.approx(page[0].octets * 8 / 14400, rel=0.1)
        assert 15 < call.duration < 60


@pytest.mark.parametrize("ecm", [False, True], ids=["non-ecm", "ecm"])
def test_two_pages(two_page_tiff: Path, ecm: bool) -> None:
    with build_exchange(speed=40) as ex:
        _rx, sent, got = _send(ex, two_page_tiff, ecm)
        assert sent.ok and got.ok and (sent.pages, got.pages) == (2, 2)
        assert got.tiff is not None
        for n in (0, 1):
            assert (tiff_bitmap(got.tiff, n) == tiff_bitmap(two_page_tiff, n)).all()
        assert not (tiff_bitmap(got.tiff, 0) == tiff_bitmap(got.tiff, 1)).all()
        # MPS after page 1 (PPS-MPS in ECM), EOP after page 2
        post = [f for f in ex.calls[-1].frames() if f in (0x4E, 0x2E, 0xBE)]
        assert len(post) == 2


def test_bit_errors_force_rtn(page_tiff: Path) -> None:
    with build_exchange(speed=40) as ex:
        rx = ex.add_remote("+15550110", "receiver", ident="RECEIVER")
        tx = ex.add_remote("+15550120", "sender", ident="SENDER")
        assert isinstance(rx, SpandspFax) and isinstance(tx, SpandspFax)
        rx.faults.bit_error_rate = 2e-3
        sent = tx.send("15550110", page_tiff)
        assert sent.done.wait(60)
        call = ex.calls[-1]
        assert call.bit_flips > 100
        assert FCF_RTN in call.frames(rx)  # the receiver rejected the page
        assert FCF_MCF not in call.frames(rx)
        got = rx.wait_session(30)
        assert got is not None
        _result, bad_rows = got.page_results[0]
        assert bad_rows > 50
        # spandsp 0.0.6 as sender does not retransmit after RTN: no page confirmed
        assert sent.pages == 0 and got.pages == 0


def test_bit_errors_in_ecm_force_partial_page_retransmission(page_tiff: Path) -> None:
    with build_exchange(speed=40) as ex:
        rx = ex.add_remote("+15550110", "receiver", ecm=True)
        tx = ex.add_remote("+15550120", "sender", ecm=True)
        assert isinstance(rx, SpandspFax) and isinstance(tx, SpandspFax)
        rx.faults.bit_error_rate = 5e-5
        sent = tx.send("15550110", page_tiff)
        assert sent.done.wait(60)
        got = rx.wait_session(30)
        assert got is not None and got.ok and sent.ok, (got, sent)
        call = ex.calls[-1]
        assert call.bit_flips > 0
        assert FCF_PPR in call.frames(rx)  # bad frames asked for again...
        assert got.tiff is not None  # ...and the page is perfect
        assert (tiff_bitmap(got.tiff) == tiff_bitmap(page_tiff)).all()


def test_drop_mid_page(page_tiff: Path) -> None:
    with build_exchange(speed=40) as ex:
        rx = ex.add_remote("+15550113", "drop_mid_page")
        tx = ex.add_remote("+15550120", "sender")
        assert isinstance(rx, SpandspFax) and isinstance(tx, SpandspFax)
        sent = tx.send("15550113", page_tiff)
        assert sent.done.wait(60)
        call = ex.calls[-1]
        assert call.reason == "dropped" and call.cleared_by == "exchange"
        assert 3000 <= call.sniffer.page_bytes < 3000 + 200
        assert not sent.ok and sent.pages == 0
        got = rx.wait_session(30)
        assert got is not None and not got.ok


def test_sender_to_busy_and_unanswered(page_tiff: Path) -> None:
    with build_exchange(speed=40) as ex:
        ex.add_remote("+15550111", "busy")
        ex.add_remote("+15550112", "no_answer")
        tx = ex.add_remote("+15550120", "sender")
        assert isinstance(tx, SpandspFax)
        s = tx.send("15550111", page_tiff)
        assert s.done.wait(30) and s.dial_result == "BUSY" and not s.ok
        s = tx.send("15550112", page_tiff)
        assert s.done.wait(30) and s.dial_result == "NO ANSWER" and not s.ok
        assert s.ended - s.started >= 60  # rang out for a simulated minute
        s = tx.send("15559999", page_tiff)
        assert s.done.wait(30) and s.dial_result == "NO CARRIER"


def test_speed_changes_wall_time_not_simulated_time(page_tiff: Path) -> None:
    """The same call at two speeds: simulated durations agree (carriers are timed by
    their bit rates in simulated seconds, spandsp's clock follows the simulation)."""
    durations = []
    page_spans = []
    for speed in (10, 40):
        with build_exchange(speed=speed) as ex:
            _rx, sent, got = _send(ex, page_tiff, ecm=False)
            assert sent.ok and got.ok
            call = ex.calls[-1]
            durations.append(call.duration)
            page = next(c for c in call.carriers if c.mod == 146)
            assert page.data_start is not None and page.data_end is not None
            page_spans.append(page.data_end - page.data_start)
    # (scheduling jitter on a loaded machine leaks in multiplied by the speed: allow some)
    assert durations[0] == pytest.approx(durations[1], rel=0.15)
    assert page_spans[0] == pytest.approx(page_spans[1], rel=0.1)
    assert page_spans[0] >= 26_000 * 8 / 14400  # the page's bits at 14,400 bit/s
