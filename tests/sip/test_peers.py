"""Self-tests of the SIP/T.38 peer fixtures (tests/servers/), without any umfax SIP code:
kamailio with SIPp on both sides, rtpengine's T.38 gateway, loopback captures checked by
tshark, and spandsp fax machines on G.711 RTP and T.38 UDPTL.

Marked ``sip_peers``; a peer that is not installed skips its tests with the reason.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.peers.faximage import compare_pages, load_fax_pages, make_test_page
from tests.servers import bencode, tshark
from tests.servers.fax_audio import AudioFax, audio_sdp, rtp_packet, rtp_payload, sdp_port
from tests.servers.kamailio import KamailioServer
from tests.servers.ports import HOST, free_udp_port
from tests.servers.rtpengine import RtpengineServer
from tests.servers.sip_fixtures import require_sipp, require_spandsp
from tests.servers.sipp import SippResult, render_scenario, run_sipp, start_sipp
from tests.servers.t38_fax import T38Fax, udptl_decode, udptl_encode

pytestmark = pytest.mark.sip_peers

USERS = {"alice": "wonderland", "bob": "builder"}


def t38_sdp(port: int) -> str:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
        f"m=image {port} udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\n"
        "a=T38FaxRateManagement:transferredTCF\r\na=T38FaxMaxBuffer:2000\r\n"
        "a=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"
    )


def first_lines(result: SippResult) -> list[str]:
    """The request and status lines SIPp sent and received, in order."""
    return [line for line in result.messages.splitlines() if line.startswith(("SIP/2.0 ", "REGISTER ",
            "INVITE ", "ACK ", "BYE "))]  # fmt: skip


# -- pure helpers -----------------------------------------------------------------------------


def test_bencode_round_trip() -> None:
    value = {"command": "offer", "T.38": ["decode"], "n": -3, "sdp": "v=0\r\n", "raw": b"\xff\x00"}
    data = bencode.encode(value)
    assert data.startswith(b"d4:T.38l6:decodee7:command5:offer")
    assert bencode.decode(data) == value
    for junk in (b"d3:abc", b"i12", b"5:ab", b"x", b"le1"):
        with pytest.raises(bencode.BencodeError):
            bencode.decode(junk)


def test_render_scenario_fills_placeholders(tmp_path: Path) -> None:
    path = render_scenario("uas_answer.xml", tmp_path, media_port=4242)
    text = path.read_text()
    assert "m=audio 4242 RTP/AVP 0" in text and "{{" not in text and "[last_Via:]" in text
    with pytest.raises(KeyError, match="from_user"):
        render_scenario("uac_invite_auth.xml", tmp_path, media_port=1)


def test_udptl_and_rtp_framing() -> None:
    datagram = udptl_encode(65535, b"\x01" * 200, [b"\x02", b"\x03"])
    assert udptl_decode(datagram) == (65535, b"\x01" * 200, [b"\x02", b"\x03"])
    packet = rtp_packet(8, 7, 1120, 0x1234, b"\xd5" * 160, marker=True)
    assert rtp_payload(packet) == (8, b"\xd5" * 160)
    assert rtp_payload(b"junk") is None


# -- kamailio and SIPp ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_kamailio_registers_with_digest(
    kamailio: Callable[..., KamailioServer], tmp_path: Path, transport: str
) -> None:
    require_sipp()
    started = time.monotonic()
    sip = kamailio(USERS)
    assert time.monotonic() - started < 2.0
    result = run_sipp("register_digest.xml", (sip.host, sip.port), workdir=tmp_path, transport=transport,
                      service="alice", auth=("alice", USERS["alice"]), wait=15)  # fmt: skip
    assert result.ok, result.report()
    statuses = [line for line in first_lines(result) if line.startswith("SIP/2.0")]
    assert statuses == ["SIP/2.0 401 Unauthorized", "SIP/2.0 200 OK"], result.report()
    assert 'qop="auth"' in result.messages


def test_kamailio_refuses_a_wrong_password(kamailio: Callable[..., KamailioServer], tmp_path: Path) -> None:
    require_sipp()
    sip = kamailio(USERS)
    result = run_sipp("register_digest.xml", (sip.host, sip.port), workdir=tmp_path, service="alice",
                      auth=("alice", "wrong"), timeout=3, wait=10)  # fmt: skip
    assert not result.ok
    assert [line for line in first_lines(result) if line.startswith("SIP/2.0")][:2] == [
        "SIP/2.0 401 Unauthorized", "SIP/2.0 401 Unauthorized"]  # fmt: skip


def test_kamailio_proxies_an_invite_to_its_next_hop(
    kamailio: Callable[..., KamailioServer], tmp_path: Path
) -> None:
    """SIPp UAC (a kamailio user: 407 first) -> kamailio -> SIPp UAS (the static next hop),
    record-routed: ACK and BYE cross kamailio too."""
    require_sipp()
    uas_port = free_udp_port()
    sip = kamailio(USERS, next_hop=(HOST, uas_port))
    uas_scenario = render_scenario("uas_answer.xml", tmp_path / "uas", media_port=free_udp_port())
    uac_scenario = render_scenario("uac_invite_auth.xml", tmp_path / "uac", media_port=free_udp_port(),
                                   from_user="alice")  # fmt: skip
    with start_sipp(uas_scenario, workdir=tmp_path, port=uas_port) as uas:
        uac = run_sipp(uac_scenario, (sip.host, sip.port), workdir=tmp_path, service="far",
                       auth=("alice", USERS["alice"]), wait=20)  # fmt: skip
        answered = uas.wait(10)
    assert uac.ok, uac.report()
    assert answered.ok, answered.report()
    lines = first_lines(uac)
    assert lines[:2] == [
        f"INVITE sip:far@{HOST}:{sip.port} SIP/2.0",
        "SIP/2.0 407 Proxy Authentication Required",
    ]
    assert f"Route: <sip:{HOST}:{sip.port};lr" in uac.messages  # the ACK and BYE follow the route set
    assert "Proxy-Authorization" not in answered.messages  # kamailio consumed the credentials


def test_kamailio_routes_to_a_registered_contact(
    kamailio: Callable[..., KamailioServer], tmp_path: Path
) -> None:
    require_sipp()
    sip = kamailio(USERS)
    bob_port = free_udp_port()
    registered = run_sipp("register_digest.xml", (sip.host, sip.port), workdir=tmp_path, port=bob_port,
                          service="bob", auth=("bob", USERS["bob"]), wait=15)  # fmt: skip
    assert registered.ok, registered.report()
    uas_scenario = render_scenario("uas_answer.xml", tmp_path / "uas", media_port=free_udp_port())
    uac_scenario = render_scenario("uac_invite_auth.xml", tmp_path / "uac", media_port=free_udp_port(),
                                   from_user="alice")  # fmt: skip
    with start_sipp(uas_scenario, workdir=tmp_path, port=bob_port) as uas:
        uac = run_sipp(uac_scenario, (sip.host, sip.port), workdir=tmp_path, service="bob",
                       auth=("alice", USERS["alice"]), wait=20)  # fmt: skip
        answered = uas.wait(10)
    assert uac.ok, uac.report()
    assert answered.ok, answered.report()
    assert f"INVITE sip:bob@{HOST}:{bob_port};transport=UDP SIP/2.0" in answered.messages


# -- rtpengine --------------------------------------------------------------------------------


def test_rtpengine_t38_decode_offers_audio(rtpengine: RtpengineServer) -> None:
    assert rtpengine.ping()
    offer = rtpengine.offer("call-1", "tag-a", t38_sdp(free_udp_port()), **{"T.38": ["decode"]})
    assert offer["result"] == "ok"
    assert "m=audio " in offer["sdp"] and "RTP/AVP 0 8" in offer["sdp"] and "m=image" not in offer["sdp"]
    answer = rtpengine.answer("call-1", "tag-a", "tag-b", audio_sdp(free_udp_port()))
    assert "m=image " in answer["sdp"] and "udptl t38" in answer["sdp"]
    assert "T38FaxVersion:0" in answer["sdp"]
    assert rtpengine.delete("call-1", "tag-a")["result"] == "ok"


# -- tshark -------------------------------------------------------------------------------------


def test_tshark_checks_a_capture_of_a_registration(
    kamailio: Callable[..., KamailioServer],
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    tmp_path: Path,
) -> None:
    require_sipp()
    sip = kamailio(USERS)
    junk_port = free_udp_port()
    capture = loopback_capture(tshark.udp_ports_filter(sip.port, junk_port))
    result = run_sipp("register_digest.xml", (sip.host, sip.port), workdir=tmp_path, service="alice",
                      auth=("alice", USERS["alice"]), wait=15)  # fmt: skip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # a broken UDPTL datagram
        sock.sendto(b"\x00\x01\x05\x00\x01", (HOST, junk_port))
    capture.stop()
    assert result.ok, result.report()
    decode = tshark.t38_decode_as(junk_port)
    assert tshark.protocol_frames(capture.file, "sip.Method == REGISTER") == 2
    assert tshark.protocol_frames(capture.file, "sip.Status-Code == 401") == 1
    counts = tshark.problem_counts(capture.file, decode)
    assert counts == {"sip": 0, "sdp": 0, "udptl": 0, "t38": 1}, tshark.problems(capture.file, decode)


# -- fax machines in real time ----------------------------------------------------------------


@pytest.fixture
def one_page(tmp_path: Path) -> Path:
    require_spandsp()
    return make_test_page(tmp_path / "page.tif", resolution="standard")


def assert_same_pages(sent: Path, received: Path) -> None:
    sent_pages, received_pages = load_fax_pages(sent), load_fax_pages(received)
    assert len(received_pages) == len(sent_pages)
    for a, b in zip(sent_pages, received_pages, strict=True):
        comparison = compare_pages(a, b)
        assert comparison.identical, comparison


@pytest.mark.slow
@pytest.mark.long_call  # the same audio machine faxes with umfax through rtpengine: test_rtpengine.py
def test_two_audio_faxes_send_a_page_over_rtp(one_page: Path, tmp_path: Path) -> None:
    received = tmp_path / "received.tif"
    with (
        AudioFax(calling=False, receive_tiff=received, codec="PCMA") as answerer,
        AudioFax(calling=True, send_tiff=one_page, remote=(HOST, answerer.port)) as caller,
    ):
        sent = caller.wait(60)
        got = answerer.wait(10)
    assert sent.ok and got.ok, (sent, got)
    assert (sent.pages, got.pages, got.ecm) == (1, 1, True)
    assert_same_pages(one_page, received)


@pytest.mark.slow
@pytest.mark.long_call  # tests/sip/test_rtpengine.py covers this path with umfax's T.38 in spandsp's place
def test_rtpengine_gateways_a_t38_fax_to_audio(
    rtpengine: RtpengineServer,
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    one_page: Path,
    tmp_path: Path,
) -> None:
    """spandsp's T.38 terminal -> rtpengine (T.38 decode) -> spandsp's fax_state on PCMU;
    tshark decodes the UDPTL leg and finds the whole T.30 exchange."""
    received = tmp_path / "received.tif"
    t38 = T38Fax(calling=True, send_tiff=one_page)
    audio = AudioFax(calling=False, receive_tiff=received)
    offer = rtpengine.offer("gw-1", "t38-side", t38_sdp(t38.port), **{"T.38": ["decode"]})["sdp"]
    audio.remote = (HOST, sdp_port(offer, "audio"))
    answer = rtpengine.answer("gw-1", "t38-side", "audio-side", audio_sdp(audio.port))["sdp"]
    gateway_port = sdp_port(answer, "image")
    t38.remote = (HOST, gateway_port)
    capture = loopback_capture(tshark.udp_ports_filter(t38.port, gateway_port))
    with t38, audio:
        sent = t38.wait(60)
        got = audio.wait(10)
    capture.stop()
    assert sent.ok and got.ok, (sent, got)
    assert_same_pages(one_page, received)
    decode = tshark.t38_decode_as(t38.port, gateway_port)
    assert tshark.problem_counts(capture.file, decode, malformed_only=True)["t38"] == 0
    controls = tshark.facsimile_controls(capture.file, decode)
    essential = [c for c in controls if c in ("DIS", "DCS", "CFR", "MCF", "DCN")]
    assert essential == ["DIS", "DCS", "CFR", "MCF", "DCN"], controls
    assert "FCD" in controls and "PPS" in controls  # an ECM page
