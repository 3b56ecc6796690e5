"""umfax's T.38 through rtpengine's T.38 gateway to a fax machine on G.711, in real time.

Our T.30 engine (T30Sender / T30Receiver) runs in our :class:`~modem.t38.terminal.T38Terminal`,
pumped by :func:`~modem.siptrunk.media.run_t38` (the SIP channel's pump: our UDPTL and IFP
codecs) over a real UDP socket, to rtpengine in user space with ``T.38=decode``: rtpengine's
own UDPTL and spandsp's T.38 gateway turn it into PCMU/PCMA RTP, where spandsp's
``fax_state`` (:class:`~tests.servers.fax_audio.AudioFax`) sends or receives the page.
Neither end of the audio leg nor the gateway is our code.

Each call checks that the page arrives equal to the page sent, and that tshark, decoding
a loopback capture of our UDPTL leg, finds no malformed T.38 packet and the same T.30
control frames, in the same order and direction, as our engine's ``frame_log``.

A call takes about 25 s of line time: only umfax sending with ECM runs by default, the
other three are ``long_call`` (``-m long_call`` runs them).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from modem.api import HangupCause, ReceivedPage, ReceiveOptions, SendOptions
from modem.sdp import SessionDescription, T38Params, t38_offer, t38_params
from modem.siptrunk.media import MediaOutcome, T38Settings, max_ifp_data, run_t38
from modem.t30 import T30Receiver, T30Sender
from modem.t38.terminal import T38Terminal
from tests.modem.pages import decode, encode
from tests.peers.faximage import compare_pages, load_fax_pages, make_test_page
from tests.servers import tshark
from tests.servers.fax_audio import AudioFax, FaxResult, audio_sdp, sdp_port
from tests.servers.ports import HOST
from tests.servers.rtpengine import RtpengineError, RtpengineServer
from tests.servers.sip_fixtures import require_spandsp
from umfax.lines.pages import recode_image

pytestmark = [pytest.mark.sip_peers, pytest.mark.slow]

CALL_LIMIT = 120.0  # seconds: a call that has not ended by then is stopped (and fails)
HIGH_SPEED_FRAMES = ("FCD", "RCP")  # ECM frames inside the page signal, not V.21 control frames


@dataclass
class GatewayCall:
    """What one call through rtpengine left behind."""

    engine: T30Sender | T30Receiver
    outcome: MediaOutcome
    far: FaxResult
    capture: Path
    decode_as: list[str]
    our_port: int
    gateway_port: int
    params: T38Params
    seconds: float
    pages: list[ReceivedPage] = field(default_factory=list)


@pytest.fixture
def page(tmp_path: Path) -> Path:
    require_spandsp()
    return make_test_page(tmp_path / "page.tif", resolution="fine")


def call_through_rtpengine(
    rtpengine: RtpengineServer,
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    page: Path,
    received: Path,
    *,
    umfax_sends: bool,
    ecm: bool,
    codec: str,
) -> GatewayCall:
    """One fax call: our T.38 terminal on a UDP socket <-> rtpengine (T.38 decode) <->
    AudioFax on ``codec``; ``umfax_sends``: we call and send ``page`` (else the audio
    machine calls and sends it, and we receive)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    our_port = int(sock.getsockname()[1])
    if umfax_sends:
        audio = AudioFax(calling=False, receive_tiff=received, codec=codec, ecm=ecm)
    else:
        audio = AudioFax(calling=True, send_tiff=page, codec=codec, ecm=ecm)
    call_id = f"umfax-rtpe-{our_port}"
    try:
        offer = t38_offer(HOST, our_port, T38Params(max_bit_rate=14400), session_id=our_port, version=1)
        audio_side = rtpengine.offer(call_id, "umfax", offer.serialize(), **{"T.38": ["decode"]})["sdp"]
        audio.remote = (HOST, sdp_port(audio_side, "audio"))
        answer = rtpengine.answer(call_id, "umfax", "audio", audio_sdp(audio.port, codec))["sdp"]
        image = SessionDescription.parse(answer).find("image")
        assert image is not None and image.is_t38, answer
        params = t38_params(image)
        gateway_port = image.port

        engine: T30Sender | T30Receiver
        if umfax_sends:
            ink = load_fax_pages(page)[0]
            mmr = encode(Image.fromarray(~ink), "mmr", 196.0)  # mode "1": ink is 0 (black)
            engine = T30Sender([mmr], SendOptions(local_id="+1 212 555 0100", ecm=ecm, recode=recode_image))
        else:
            engine = T30Receiver(ReceiveOptions(local_id="+1 212 555 0100", ecm=ecm))
        settings = T38Settings(version=params.version, max_datagram=params.max_datagram)
        terminal = T38Terminal(engine, now=time.monotonic(), calling=umfax_sends,
                               max_ifp_data=max_ifp_data(params.max_datagram, settings.redundancy))
        capture = loopback_capture(tshark.udp_ports_filter(our_port, gateway_port))
        pages: list[ReceivedPage] = []
        started = time.monotonic()
        give_up = threading.Event()
        timer = threading.Timer(CALL_LIMIT, give_up.set)
        timer.start()

        def on_step() -> None:
            if isinstance(engine, T30Receiver):
                pages.extend(engine.take_pages())

        with audio:
            try:
                outcome = run_t38(sock, (HOST, gateway_port), terminal, settings,
                                  stopped=give_up.is_set, on_step=on_step)
            finally:
                timer.cancel()
            seconds = time.monotonic() - started
            far = audio.wait(15)
        capture.stop()
        if isinstance(engine, T30Receiver):
            pages.extend(engine.take_pages())
        return GatewayCall(engine, outcome, far, capture.file, tshark.t38_decode_as(our_port, gateway_port),
                           our_port, gateway_port, params, seconds, pages)
    finally:
        audio.close()
        sock.close()
        with contextlib.suppress(RtpengineError):
            rtpengine.delete(call_id, "umfax")


def control_frames(call: GatewayCall, source_port: int | None = None) -> list[str]:
    """The V.21 T.30 frames tshark reassembled on our leg (from ``source_port`` only, if given)."""
    where = "" if source_port is None else f"udp.srcport == {source_port}"
    names = tshark.facsimile_controls(call.capture, call.decode_as, where=where)
    return [n for n in names if n not in HIGH_SPEED_FRAMES]


def check_capture(call: GatewayCall, *, ecm: bool) -> None:
    """tshark: nothing wrong in what we sent, no malformed T.38 at all on our leg, and our
    engine's frames as it saw them.

    What we send must have no expert error either.  What rtpengine sends is held to
    ``malformed_only`` (no dissector exception), as the fixture's own self-test does:
    spandsp's gateway inside rtpengine sends the last IFP of every signal three times
    (its "transmit count", T.38's advice to repeat a signal's end) and rtpengine puts each
    copy on the wire under the SAME sequence number; tshark's reassembly then reports the
    copies of a ``t4-non-ecm-sig-end`` as "received end of fragment without any fragment
    data", an expert error about the repetition, not about the packet (each copy parses).
    Our decoder drops such copies as duplicates by their sequence number."""
    ours = tshark.problems(call.capture, call.decode_as, where=f"udp.srcport == {call.our_port}")
    assert ours == [], [str(p) for p in ours]
    counts = tshark.problem_counts(call.capture, call.decode_as, ("udptl", "t38"), malformed_only=True)
    assert counts == {"udptl": 0, "t38": 0}, tshark.problems(call.capture, call.decode_as)
    theirs = tshark.problems(call.capture, call.decode_as, where=f"udp.srcport == {call.gateway_port}")
    assert all("END OF FRAGMENT W/OUT ANY FRAGMENT DATA" in p.messages for p in theirs), [
        str(p) for p in theirs]
    log = call.engine.frame_log
    ours_sent = [n for way, n in log if way == "tx"]
    ours_got = [n for way, n in log if way == "rx"]
    assert control_frames(call, call.our_port) == ours_sent, (control_frames(call), log)
    assert control_frames(call, call.gateway_port) == ours_got, (control_frames(call), log)
    assert control_frames(call) == [n for _way, n in log], log  # the same interleaving too
    essential = [n for n in control_frames(call) if n in ("DIS", "DCS", "CFR", "MCF", "DCN")]
    assert essential == ["DIS", "DCS", "CFR", "MCF", "DCN"], log
    all_frames = tshark.facsimile_controls(call.capture, call.decode_as)
    if ecm:
        assert "FCD" in all_frames and "RCP" in all_frames and "PPS" in all_frames, all_frames
    else:
        assert "EOP" in all_frames and "FCD" not in all_frames, all_frames


CASES = [
    pytest.param(True, True, "PCMU", id="umfax-sends-ecm"),
    pytest.param(True, False, "PCMA", id="umfax-sends-no-ecm", marks=pytest.mark.long_call),
    pytest.param(False, True, "PCMA", id="umfax-receives-ecm", marks=pytest.mark.long_call),
    pytest.param(False, False, "PCMU", id="umfax-receives-no-ecm", marks=pytest.mark.long_call),
]


@pytest.mark.parametrize(("umfax_sends", "ecm", "codec"), CASES)
def test_a_page_through_rtpengines_t38_gateway(
    rtpengine: RtpengineServer,
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    page: Path,
    tmp_path: Path,
    umfax_sends: bool,
    ecm: bool,
    codec: str,
) -> None:
    received = tmp_path / "received.tif"
    call = call_through_rtpengine(rtpengine, loopback_capture, page, received,
                                  umfax_sends=umfax_sends, ecm=ecm, codec=codec)
    result = call.engine.result
    assert result is not None and result.cause is HangupCause.OK, (result, call.outcome, call.far)
    assert call.outcome.ended_by == "engine", call.outcome
    assert call.far.ok, call.far
    assert call.engine.pages_done == 1 and call.far.pages == 1, (call.engine.pages_done, call.far)
    assert call.far.ecm is ecm and (call.engine.params is not None and call.engine.params.ecm is ecm)
    sent_ink = load_fax_pages(page)[0]
    if umfax_sends:
        got_ink = load_fax_pages(received)
    else:
        assert all(p.good for p in call.pages), call.pages
        got_ink = [decode(p.image) for p in call.pages]
    assert len(got_ink) == 1, len(got_ink)
    comparison = compare_pages(sent_ink, got_ink[0])
    assert comparison.identical and comparison.leading_rows == 0, comparison
    check_capture(call, ecm=ecm)
