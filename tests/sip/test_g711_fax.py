"""umfax's G.711 fax line (modem.softmodem: our Class 1 driver and T.30 engine on spandsp's
T.31 soft modem, in process) against spandsp's ``fax_state`` on G.711 RTP, in real time:
one page each way, ECM on, pages compared pixel by pixel.  A call takes about 25 s of
line time, so only one runs by default; the rest run with ``-m long_call``."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modem.api import IncomingCall, PageImage, ReceivedPage, ReceiveOptions, SendOptions
from modem.g711 import Law
from modem.sdp import SessionDescription, T38Params, t38_offer
from modem.softmodem import AudioSettings, G711Line, t31_available
from tests.modem.pages import decode, encode
from tests.peers.faximage import load_fax_pages, make_test_page
from tests.servers.fax_audio import AudioFax, audio_sdp, sdp_port
from tests.servers.ports import HOST
from tests.servers.rtp_relay import ImpairedRelay
from tests.servers.rtpengine import RtpengineServer
from tests.servers.sip_fixtures import require_spandsp
from tests.servers.t38_fax import T38Fax
from umfax.lines.pages import recode_image

pytestmark = [pytest.mark.sip_peers, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(autouse=True)
def _long_calls_when_asked(request: pytest.FixtureRequest) -> None:
    """Tests marked ``long_call`` (real-time calls) run only when ``-m`` names them."""
    if (request.node.get_closest_marker("long_call")
            and "long_call" not in (request.config.option.markexpr or "")):
        pytest.skip("a long real-time call: run with -m long_call")


@pytest.fixture
def page(tmp_path: Path) -> Path:
    require_spandsp()
    if not t31_available():
        pytest.skip("libspandsp2 has no T.31 modem")
    return make_test_page(tmp_path / "page.tif", resolution="fine")


@pytest.fixture
def rtp_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    yield sock
    sock.close()


def encode_ink(ink: np.ndarray) -> PageImage:
    """A fax page (MMR, fine) of a pixel array (True = ink)."""
    return encode(Image.fromarray(~ink), "mmr", 196.0)


#: Sets up a media relay between our port and the fax machine's; returns where each sends.
Relay = Callable[[int, int], tuple[tuple[str, int], tuple[str, int]]]


def send_to_audio_fax(sock: socket.socket, page: Path, tmp_path: Path, codec: Law,
                      relay: Relay | None = None) -> None:
    """Our line sends ``page`` to spandsp's fax_state and checks both ends and the pixels."""
    received = tmp_path / "received.tif"
    ink = load_fax_pages(page)[0]
    port = sock.getsockname()[1]
    fax = AudioFax(calling=False, receive_tiff=received, codec=codec)
    our_far, fax.remote = relay(port, fax.port) if relay else ((HOST, fax.port), (HOST, port))
    with fax:
        line = G711Line(sock, our_far, AudioSettings(codec=codec))
        notes: list[str] = []
        started = time.monotonic()
        result = line.send("", [encode_ink(ink)], SendOptions(local_id="+1 212 555 0100",
                                                              recode=recode_image),
                           lambda p: notes.append(str(p.kind)))
        seconds = time.monotonic() - started
        far_result = fax.wait(30)
    print(f"G.711 send ({codec}): {seconds:.1f} s, {line.stats}")
    assert result.ok, (result, line.stats, far_result)
    assert result.pages_done == 1 and result.ecm, result
    assert notes[:2] == ["dialing", "connected"] and "page_done" in notes, notes
    assert far_result.ok and far_result.pages == 1 and far_result.ecm, far_result
    got = load_fax_pages(received)
    assert len(got) == 1 and np.array_equal(got[0][: ink.shape[0]], ink[: got[0].shape[0]])
    assert line.stats is not None and line.stats.packets_in > 0 and line.stats.foreign == 0


def receive_from_audio_fax(sock: socket.socket, page: Path, codec: Law,
                           relay: ImpairedRelay | None = None) -> None:
    """spandsp's fax_state calls and sends ``page``; our line answers and receives it
    (through ``relay``, side ``a`` ours, when given)."""
    port = sock.getsockname()[1]
    pages: list[ReceivedPage] = []
    fax = AudioFax(calling=True, send_tiff=page, codec=codec)
    if relay is not None:
        relay.peers = {"a": (HOST, port), "b": (HOST, fax.port)}
    our_far, fax.remote = (relay.a_address, relay.b_address) if relay else ((HOST, fax.port), (HOST, port))
    with fax:
        line = G711Line(sock, our_far, AudioSettings(codec=codec))
        started = time.monotonic()
        result = line.receive(IncomingCall(caller_number="12125550199"),
                              ReceiveOptions(local_id="+1 212 555 0100"), pages.append, lambda _p: None)
        seconds = time.monotonic() - started
        sent = fax.wait(30)
    print(f"G.711 receive ({codec}): {seconds:.1f} s, {line.stats}")
    assert result.ok and result.pages_done == 1 and result.ecm, (result, line.stats, sent)
    assert sent.ok and sent.pages == 1, sent
    ink = load_fax_pages(page)[0]
    got = decode(pages[0].image)
    assert np.array_equal(got[: ink.shape[0]], ink[: got.shape[0]])


@pytest.mark.long_call  # the trunk fallback test below sends the same way by default, SIP and all
def test_send_a_page_to_spandsp_over_pcmu(page: Path, tmp_path: Path, rtp_socket: socket.socket) -> None:
    send_to_audio_fax(rtp_socket, page, tmp_path, "PCMU")


@pytest.mark.long_call
def test_receive_a_page_from_spandsp_over_pcmu(page: Path, rtp_socket: socket.socket) -> None:
    receive_from_audio_fax(rtp_socket, page, "PCMU")


@pytest.mark.long_call
def test_receive_a_page_from_spandsp_over_pcma(page: Path, rtp_socket: socket.socket) -> None:
    receive_from_audio_fax(rtp_socket, page, "PCMA")


@pytest.mark.long_call
def test_send_a_page_to_spandsp_over_pcma(page: Path, tmp_path: Path, rtp_socket: socket.socket) -> None:
    send_to_audio_fax(rtp_socket, page, tmp_path, "PCMA")


@pytest.mark.long_call
def test_send_a_page_through_rtpengine_relaying_rtp(
        page: Path, tmp_path: Path, rtp_socket: socket.socket, rtpengine: RtpengineServer) -> None:
    """rtpengine as a plain RTP relay (offer/answer of two audio SDPs) between our line and
    spandsp's fax_state: what a carrier's media proxy does to a G.711 fax."""

    def relay(our_port: int, fax_port: int) -> tuple[tuple[str, int], tuple[str, int]]:
        offer = rtpengine.offer("g711-call", "us", audio_sdp(our_port))["sdp"]
        answer = rtpengine.answer("g711-call", "us", "fax", audio_sdp(fax_port))["sdp"]
        return (HOST, sdp_port(answer, "audio")), (HOST, sdp_port(offer, "audio"))

    send_to_audio_fax(rtp_socket, page, tmp_path, "PCMU", relay)
    rtpengine.delete("g711-call", "us")


def t38_far_end_through_rtpengine(rtpengine: RtpengineServer, sock: socket.socket, fax: T38Fax,
                                  call_id: str) -> tuple[str, int]:
    """rtpengine with ``T.38=decode`` between spandsp's T.38 terminal (``fax``, which
    offers ``m=image``) and our G.711 line on ``sock`` (which answers ``m=audio``): the
    reverse of tests/sip/test_rtpengine.py, umfax on G.711 and the far end on T.38.
    Points ``fax`` at the gateway's UDPTL port; returns where our RTP goes."""
    offer = t38_offer(HOST, fax.port, T38Params(max_bit_rate=14400), session_id=fax.port, version=0)
    audio_side = rtpengine.offer(call_id, "fax", offer.serialize(), **{"T.38": ["decode"]})["sdp"]
    answer = rtpengine.answer(call_id, "fax", "umfax", audio_sdp(sock.getsockname()[1], "PCMU"))["sdp"]
    image = SessionDescription.parse(answer).find("image")
    assert image is not None and image.is_t38, answer
    fax.remote = (HOST, image.port)
    return HOST, sdp_port(audio_side, "audio")


@pytest.mark.long_call  # about 30 s of real time; the default run's budget is spent
def test_receive_from_a_t38_fax_machine_through_rtpengines_gateway(
        page: Path, rtp_socket: socket.socket, rtpengine: RtpengineServer) -> None:
    """A T.38 fax machine (spandsp's t38_terminal) calls; a media gateway (rtpengine,
    T.38=decode, spandsp's gateway inside it) turns its T.38 into G.711, where our line
    answers and receives the page: what happens when the carrier speaks T.38 and the
    trunk to umfax only G.711."""
    pages: list[ReceivedPage] = []
    fax = T38Fax(calling=True, send_tiff=page)
    try:
        our_far = t38_far_end_through_rtpengine(rtpengine, rtp_socket, fax, "t38-to-g711")
        with fax:
            line = G711Line(rtp_socket, our_far, AudioSettings(codec="PCMU"))
            result = line.receive(IncomingCall(caller_number="12125550199"),
                                  ReceiveOptions(local_id="+1 212 555 0100"), pages.append, lambda _p: None)
            sent = fax.wait(30)
    finally:
        fax.close()
        rtpengine.delete("t38-to-g711", "fax")
    assert result.ok and result.pages_done == 1 and result.ecm, (result, line.stats, sent)
    assert sent.ok and sent.pages == 1 and fax.datagrams_in > 0, sent
    assert line.stats is not None and line.stats.packets_in > 0 and line.stats.foreign == 0, line.stats
    ink = load_fax_pages(page)[0]
    got = decode(pages[0].image)
    assert np.array_equal(got[: ink.shape[0]], ink[: got.shape[0]])


@pytest.mark.long_call
def test_send_to_a_t38_fax_machine_through_rtpengines_gateway(
        page: Path, tmp_path: Path, rtp_socket: socket.socket, rtpengine: RtpengineServer) -> None:
    """The other direction: our G.711 line sends, through rtpengine's gateway, to a T.38
    fax machine that answers."""
    received = tmp_path / "received.tif"
    ink = load_fax_pages(page)[0]
    fax = T38Fax(calling=False, receive_tiff=received)
    try:
        our_far = t38_far_end_through_rtpengine(rtpengine, rtp_socket, fax, "g711-to-t38")
        with fax:
            line = G711Line(rtp_socket, our_far, AudioSettings(codec="PCMU"))
            result = line.send("", [encode_ink(ink)], SendOptions(local_id="+1 212 555 0100",
                                                                  recode=recode_image), lambda _p: None)
            far_result = fax.wait(30)
    finally:
        fax.close()
        rtpengine.delete("g711-to-t38", "fax")
    assert result.ok and result.pages_done == 1, (result, line.stats, far_result)
    assert far_result.ok and far_result.pages == 1, far_result
    got = load_fax_pages(received)
    assert len(got) == 1 and np.array_equal(got[0][: ink.shape[0]], ink[: got[0].shape[0]])


@pytest.mark.long_call
def test_receive_through_loss_and_jitter(page: Path, rtp_socket: socket.socket) -> None:
    """1 % of the packets lost each way and 0-40 ms of jitter (reordering) towards us: the
    fixed 80 ms buffer puts the audio back in order, spandsp conceals the gaps, and ECM
    repairs what was lost.  (The far end has no jitter buffer: it gets no jitter.)"""
    with ImpairedRelay(loss=0.01, jitter_to_a=0.04, seed=7) as relay:
        receive_from_audio_fax(rtp_socket, page, "PCMU", relay)


def test_a_trunk_call_whose_far_end_refuses_t38_goes_on_in_g711(page: Path, tmp_path: Path) -> None:
    """A SIP trunk channel (t38 = "prefer") calls a far end that answers with audio and
    refuses our T.38 re-INVITE (488): the fax goes on in G.711 in the same call, to
    spandsp's fax_state on the audio port the far end's SDP named."""
    from modem.siptrunk import SipChannel, SipTrunk, TrunkSettings
    from tests.servers.ports import free_udp_port
    from tests.servers.sip_fixtures import require_sipp
    from tests.servers.sipp import render_scenario, start_sipp

    require_sipp()
    received = tmp_path / "received.tif"
    fax = AudioFax(calling=False, receive_tiff=received, codec="PCMU")
    scenario = render_scenario("uas_t38_refused.xml", tmp_path, media_port=fax.port, code=488,
                               reason="Not Acceptable Here", bye_timeout_ms=80000)
    media = free_udp_port()
    with start_sipp(scenario, workdir=tmp_path, timeout=90) as far, fax:
        trunk = SipTrunk(TrunkSettings(name="carrier", listen=(HOST, 0), proxy=(HOST, far.port),
                                       username="12125550100", media_ports=(media, media),
                                       t38_reinvite_after=0.2))
        try:
            ink = load_fax_pages(page)[0]
            notes: list[str] = []
            options = SendOptions(local_id="+1 212 555 0100", recode=recode_image)
            result = SipChannel(trunk, 1).send("12125550110", [encode_ink(ink)], options,
                                               lambda p: notes.append(str(p.kind)))
            sipp = far.wait(15)
            far_result = fax.wait(15)
        finally:
            trunk.close()
    assert result.ok and result.transport == "g711" and result.pages_done == 1, result
    assert notes.count("dialing") == 1 and "page_done" in notes, notes
    assert sipp.ok, sipp.report()  # it refused T.38, then took our BYE
    assert far_result.ok and far_result.pages == 1, far_result
    got = load_fax_pages(received)
    assert len(got) == 1 and np.array_equal(got[0][: ink.shape[0]], ink[: got[0].shape[0]])
