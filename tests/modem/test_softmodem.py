"""The G.711 line's soft modem (modem.softmodem) on a real socket for a second or two: what
it sends while the far end says nothing (CNG in PCMA RTP), and how a call that goes away
ends (no RTP for ``media_timeout``, the SIP side's ``stopped``); RTP from a stranger is
dropped.  Whole fax calls are in tests/sip/test_g711_fax.py."""

from __future__ import annotations

import itertools
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from modem import g711
from modem.api import HangupCause, IncomingCall, PageImage, ReceiveOptions, SendOptions
from modem.rtp import RtpPacket, decode_rtp
from modem.softmodem import AudioSettings, G711Line, t31_available
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
