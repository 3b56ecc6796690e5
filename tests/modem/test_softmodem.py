"""The G.711 line's soft modem (modem.softmodem) on a real socket for a second or two: what
it sends while the far end says nothing (CNG in PCMA RTP), and how a call that goes away
ends (no RTP for ``media_timeout``, the SIP side's ``stopped``); RTP from a stranger is
dropped.  Whole fax calls are in tests/sip/test_g711_fax.py."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from modem import g711
from modem.api import HangupCause, IncomingCall, PageImage, ReceiveOptions, SendOptions
from modem.rtp import RtpPacket, decode_rtp
from modem.softmodem import AudioSettings, G711Line, t31_available
from modem.softmodem.pump import MAX_CATCH_UP, SoftModemPump
from tests.servers.ports import HOST

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _needs_spandsp() -> None:
    if not t31_available():
        pytest.skip("libspandsp2 is not installed")


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, far = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    ours.bind((HOST, 0))
    far.bind((HOST, 0))
    far.settimeout(0.5)
    yield ours, far
    ours.close()
    far.close()


PAGE = PageImage(data=b"\x00\x10" * 100, width=1728, length=10, encoding="mh", x_res=204.0, y_res=98.0)


def test_a_silent_far_end_hears_cng_and_the_call_ends_after_the_media_timeout(
        sockets: tuple[socket.socket, socket.socket]) -> None:
    ours, far = sockets
    line = G711Line(ours, far.getsockname(), AudioSettings(codec="PCMA", media_timeout=1.5))
    result = line.send("", [PAGE], SendOptions(), lambda _p: None)
    assert result.cause is HangupCause.LINE_DROPPED and "no RTP" in result.message, result
    assert line.stats is not None and line.stats.ended_by == "silent"
    packets = []
    while True:
        try:
            packets.append(decode_rtp(far.recv(2048)))
        except TimeoutError:
            break
    assert len(packets) >= 50 and {p.payload_type for p in packets} == {8}
    assert all(len(p.payload) == 160 for p in packets) and packets[0].marker
    assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in itertools.pairwise(packets))
    samples = np.concatenate([g711.decode(p.payload, "PCMA") for p in packets[:50]]).astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    peak = np.fft.rfftfreq(len(samples), 1 / 8000)[int(np.argmax(spectrum))]
    assert abs(peak - 1100) < 10  # CNG: the calling fax's 1100 Hz


def test_the_call_going_away_ends_a_receive_and_strangers_are_ignored(
        sockets: tuple[socket.socket, socket.socket]) -> None:
    ours, far = sockets
    gone = threading.Event()
    line = G711Line(ours, far.getsockname(), stopped=gone.is_set)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def meanwhile() -> None:
        for n in range(5):
            stranger.sendto(RtpPacket(0, n, n * 160, 1, b"\xff" * 160).encode(), ours.getsockname())
        far.recv(2048)  # the answering modem talks (CED)
        gone.set()

    thread = threading.Thread(target=meanwhile)
    thread.start()
    result = line.receive(IncomingCall(), ReceiveOptions(), lambda _p: None, lambda _p: None)
    thread.join()
    stranger.close()
    assert result.cause is HangupCause.LINE_DROPPED and "hung up" in result.message, result
    assert line.stats is not None and line.stats.ended_by == "stopped"
    # each stranger's packet is dropped: as foreign, or unread as stale if it came before the pump
    assert line.stats.foreign + line.stats.stale == 5 and line.stats.packets_in == 0


@pytest.mark.parametrize("stall", [0.3, 1.5])
def test_a_starved_pump_keeps_its_rtp_on_real_time(sockets: tuple[socket.socket, socket.socket],
                                                   stall: float) -> None:
    """A pump thread that could not run for a while (the GIL held by a page decode in
    another channel) catches up -- by a burst, or past MAX_CATCH_UP by skipping -- so its
    RTP timestamps keep pace with the wall clock: a far end's fixed playout buffer would
    otherwise drop every later packet as late."""
    ours, far = sockets
    pump = SoftModemPump(ours, far.getsockname())
    ticks = 0
    real_tick = pump._tick

    def stalling_tick(silent_for: float) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 10:
            time.sleep(stall)
        real_tick(silent_for)

    pump._tick = stalling_tick  # type: ignore[method-assign]
    heard: list[tuple[float, int]] = []
    with pump:
        end = time.monotonic() + stall + 1.0
        while time.monotonic() < end:
            with contextlib.suppress(TimeoutError):
                heard.append((time.monotonic(), decode_rtp(far.recv(2048)).timestamp))
    (t0, ts0), (t1, ts1) = heard[0], heard[-1]
    lag = (t1 - t0) - ((ts1 - ts0) % 2**32) / 8000
    assert abs(lag) < 0.1, f"our RTP runs {lag:.3f} s behind real time after a {stall} s stall"
    assert (pump.stats.skipped > 0) == (stall > MAX_CATCH_UP)
