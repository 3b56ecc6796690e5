"""The paths a friendly SIP/T.38 peer never takes, against umfax's trunk channels
(modem.siptrunk) in real time: SIPp scenarios (tests/sip_scenarios/) play the far end
straight to the trunk (kamailio only where a registrar or TCP matters), a spandsp T.38
terminal plays the fax machine where a fax must be under way.

Every case must end with a clear CallResult cause and message or a SIP response -- never
a crash, never a stuck channel: afterwards the trunk tracks no call and the channel's
media port is free again (the media range is a single port, so the next call needs it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from modem.api import (
    CallResult,
    HangupCause,
    PageImage,
    Progress,
    ProgressKind,
    ReceiveOptions,
    SendOptions,
)
from modem.siptrunk import SipChannel, SipTrunk, TrunkSettings
from tests.peers.faximage import load_fax_pages, make_test_page
from tests.servers.kamailio import KamailioServer
from tests.servers.ports import HOST, free_udp_port
from tests.servers.sip_fixtures import require_sipp, require_spandsp
from tests.servers.sipp import SippProcess, SippResult, render_scenario, start_sipp
from tests.servers.t38_fax import T38Fax
from umfax.lines.pages import recode_image

pytestmark = [pytest.mark.sip_peers]

DID = "12125550100"


def direct(far: tuple[str, int], media_port: int | None = None, **more: object) -> TrunkSettings:
    """A trunk whose proxy is the SIPp at ``far`` (no registrar): one channel, one media port."""
    port = media_port or free_udp_port()
    values: dict[str, object] = {
        "name": "faults",
        "listen": (HOST, 0),
        "proxy": far,
        "username": DID,
        "media_ports": (port, port),
        "channels": 1,
        "dids": (f"+{DID}",),
        "t38_reinvite_after": 0.2,
        "media_timeout": 5.0,
        "ring_timeout": 10.0,
    }
    values.update(more)
    return TrunkSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def trunk_factory() -> Iterator[Callable[[TrunkSettings], SipTrunk]]:
    trunks: list[SipTrunk] = []

    def make(s: TrunkSettings) -> SipTrunk:
        trunk = SipTrunk(s)
        trunks.append(trunk)
        trunk.start()
        return trunk

    yield make
    for trunk in trunks:
        trunk.close()


def assert_idle(trunk: SipTrunk, within: float = 2.0) -> None:
    """The trunk tracks no call any more and its media port(s) can be taken again."""
    until = time.monotonic() + within
    while trunk.calls and time.monotonic() < until:
        time.sleep(0.02)
    assert not trunk.calls, f"calls left on the trunk: {list(trunk.calls)}"
    assert trunk.incoming.empty()
    trunk.media.open().close()  # raises MediaPortsExhausted if the call kept its port


def blank_page() -> PageImage:
    """A small white MH page: set-up only, never sent in these tests."""
    from PIL import Image

    from tests.modem.pages import encode

    return encode(Image.new("1", (1728, 40), 1), "mh", 98.0)


@pytest.fixture
def page(tmp_path: Path) -> PageImage:
    """A one-page fax (MMR, fine) of the test chart: about 17 s on the line at 14400 bit/s."""
    require_spandsp()
    from PIL import Image

    from tests.modem.pages import encode

    ink = load_fax_pages(make_test_page(tmp_path / "page.tif", resolution="fine"))[0]
    return encode(Image.fromarray(~ink), "mmr", 196.0)


@dataclass
class Timed:
    """Progress notes with the wall-clock time they came (to compare with SIPp's log)."""

    notes: list[tuple[float, ProgressKind]] = field(default_factory=list)

    def __call__(self, progress: Progress) -> None:
        self.notes.append((time.time(), progress.kind))

    def at(self, kind: ProgressKind) -> float:
        return next(t for t, k in self.notes if k is kind)

    @property
    def kinds(self) -> list[ProgressKind]:
        return [k for _, k in self.notes]


def send_fax(channel: SipChannel, page: PageImage, timed: Timed) -> CallResult:
    options = SendOptions(local_id="+1 212 555 0100", recode=recode_image)
    return channel.send("12125550110", [page], options, timed)


def send(channel: SipChannel) -> CallResult:
    """Send a blank page (for calls that end before any page)."""
    return channel.send("12125550110", [blank_page()], SendOptions(local_id="+1 212 555 0100"),
                        lambda _p: None)


def sipp_uas(scenario: str, tmp: Path, **values: object) -> SippProcess:
    """SIPp answering on a free port with ``scenario`` rendered with ``values``."""
    require_sipp()
    return start_sipp(render_scenario(scenario, tmp, **values), workdir=tmp, timeout=60)


@dataclass(frozen=True)
class Logged:
    """One SIP message in SIPp's message log."""

    sent: bool  # SIPp sent it (else received it)
    at: float  # seconds since the epoch
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()


def sipp_messages(result: SippResult) -> list[Logged]:
    """The SIP messages of a SIPp run (``-trace_msg``), in order."""
    out: list[Logged] = []
    for block in result.messages.split("----------------------------------------------- ")[1:]:
        stamp, _, rest = block.partition("\n")
        head, _, text = rest.partition("\n")
        at = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        out.append(Logged("sent" in head, at, text.strip("\n")))
    return out


def received_by_sipp(result: SippResult) -> list[str]:
    return [m.first_line for m in sipp_messages(result) if not m.sent]


# 1. the far end answers our T.38 re-INVITE with 488 / 415 ------------------------------------
@pytest.mark.parametrize(("code", "reason"), [(488, "Not Acceptable Here"), (415, "Unsupported Media Type")])
def test_t38_refused_ends_no_t38_and_hangs_up_when_t38_is_required(
    code: int, reason: str, trunk_factory: Callable[[TrunkSettings], SipTrunk], tmp_path: Path
) -> None:
    with sipp_uas("uas_t38_refused.xml", tmp_path, media_port=free_udp_port(), code=code,
                  reason=reason, bye_timeout_ms=10000) as far:
        trunk = trunk_factory(direct((HOST, far.port), t38="require"))  # "prefer" goes on in G.711
        channel = SipChannel(trunk, 1)
        result = send(channel)
        sipp = far.wait(10)
    assert result.cause is HangupCause.NO_T38, result
    assert str(code) in result.message, result.message
    assert sipp.ok, sipp.report()  # it got our ACK to its refusal and our BYE
    assert "BYE" in "\n".join(received_by_sipp(sipp))
    assert_idle(trunk)


# 2. 491 glare ------------------------------------------------------------------------------
@pytest.mark.slow
def test_glare_on_the_t38_reinvite_still_gets_to_t38(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], tmp_path: Path
) -> None:
    """Both sides re-INVITE to T.38 at once; each answers the other 491; the far end (not
    owning the Call-ID) retries first and we take its offer: the call runs on T.38, and our
    own retry is dropped (SIPp would fail on a third INVITE: it hangs up only after our
    2.1-4 s retry window).  Its BYE then ends the call (no fax machine answered: before DIS)."""
    with sipp_uas("uas_glare.xml", tmp_path, media_port=free_udp_port(), retry_ms=300, bye_ms=4500,
                  quiet_ms=200) as far:
        trunk = trunk_factory(direct((HOST, far.port), t38_reinvite_after=0.0))
        channel = SipChannel(trunk, 1)
        result = send(channel)
        assert_idle(trunk)
        sipp = far.wait(15)
    assert sipp.ok, sipp.report()
    firsts = received_by_sipp(sipp)
    assert [line.split()[0] for line in firsts].count("INVITE") == 2, firsts  # the call's and our re-INVITE
    assert "SIP/2.0 491 Request Pending" in firsts
    ok_to_theirs = [m.text for m in sipp_messages(sipp) if not m.sent and "CSeq: 2 INVITE" in m.text]
    assert ok_to_theirs and "m=image" in ok_to_theirs[-1], ok_to_theirs
    assert result.cause in (HangupCause.NO_CARRIER, HangupCause.LINE_DROPPED), result
    assert "hung up" in result.message, result.message


# 3. a session refresh in the middle of a fax -----------------------------------------------------
@pytest.mark.slow
def test_session_refresh_mid_fax_is_answered_with_the_image_sdp(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], page: PageImage, tmp_path: Path
) -> None:
    """Two refresh re-INVITEs reach us during the page (one repeating the far end's SDP, one
    with none): each gets 200 with the image description we use (SIPp checks the port),
    nothing is renegotiated, and the page arrives."""
    ours = free_udp_port()
    received = tmp_path / "received.tif"
    with T38Fax(calling=False, receive_tiff=received) as fax, \
            sipp_uas("uas_refresh_mid_fax.xml", tmp_path, media_port=fax.port, our_media_port=ours,
                     refresh_ms=6500, fax_timeout_ms=60000) as far:
        trunk = trunk_factory(direct((HOST, far.port), ours, media_timeout=8.0))
        channel = SipChannel(trunk, 1)
        timed = Timed()
        result = send_fax(channel, page, timed)
        sipp = far.wait(10)
        fax_result = fax.wait(10)
    assert result.ok and result.pages_done == 1, result
    assert fax_result.ok and fax_result.pages == 1, fax_result
    assert sipp.ok, sipp.report()
    refreshes = [m for m in sipp_messages(sipp) if m.sent and m.first_line.startswith("INVITE")]
    answers = [m for m in sipp_messages(sipp) if not m.sent and m.first_line == "SIP/2.0 200 OK"
               and "INVITE" in m.text.split("CSeq:", 1)[1].split("\n", 1)[0]]
    assert len(refreshes) == 2 and len(answers) == 2, sipp.report()
    image = "\n".join(line for line in answers[0].text.splitlines() if line.startswith(("m=", "a=T38")))
    assert f"m=image {ours} udptl t38" in image and "a=T38FaxUdpEC:t38UDPRedundancy" in image, image
    assert image in answers[1].text.replace("\r", "")  # the same description both times
    started, done = timed.at(ProgressKind.PAGE_STARTED), timed.at(ProgressKind.PAGE_DONE)
    print("page", started, done, [m.at for m in refreshes])
    assert any(started < m.at < done for m in refreshes), (started, done, [m.at for m in refreshes])
    assert_idle(trunk)


# 4. BYE from the far end in the middle of a page --------------------------------------------------
@pytest.mark.slow
def test_bye_mid_page_ends_the_call_line_dropped_at_once(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], page: PageImage, tmp_path: Path
) -> None:
    """The far end hangs up while our page is on the line: the call ends line_dropped
    within a moment of the BYE (not after media_timeout), answered 200, the page unconfirmed."""
    with T38Fax(calling=False, receive_tiff=tmp_path / "received.tif") as fax, \
            sipp_uas("uas_bye_mid_fax.xml", tmp_path, media_port=fax.port, bye_ms=15000) as far:
        trunk = trunk_factory(direct((HOST, far.port), media_timeout=30.0))
        channel = SipChannel(trunk, 1)
        timed = Timed()
        result = send_fax(channel, page, timed)
        returned = time.time()
        sipp = far.wait(10)
    assert sipp.ok, sipp.report()
    bye = next(m for m in sipp_messages(sipp) if m.sent and m.first_line.startswith("BYE"))
    assert result.cause is HangupCause.LINE_DROPPED, result
    assert "hung up" in result.message, result.message
    assert returned - bye.at < 1.0, returned - bye.at
    assert timed.at(ProgressKind.PAGE_STARTED) < bye.at and ProgressKind.PAGE_DONE not in timed.kinds
    assert result.pages_done == 0
    assert_idle(trunk)


# 5. a far end that stops sending UDPTL ----------------------------------------------------------------
@pytest.fixture
def page_tif(tmp_path: Path) -> Path:
    require_spandsp()
    return make_test_page(tmp_path / "send.tif", resolution="fine")


@pytest.mark.slow
def test_far_end_silent_mid_page_ends_after_media_timeout(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], page_tif: Path, tmp_path: Path
) -> None:
    """A caller's fax machine (SIPp + spandsp) goes quiet in the middle of its page while
    the SIP call stays up: we (receiving, so silent ourselves) end the call line_dropped
    after media_timeout, naming the silence, and send BYE."""
    media_timeout = 5.0
    with T38Fax(calling=True, send_tiff=page_tif) as fax:
        trunk = trunk_factory(direct((HOST, free_udp_port()), media_timeout=media_timeout))
        scenario = render_scenario("uac_t38_direct.xml", tmp_path, media_port=fax.port,
                                   from_user="12125550199", fax_timeout_ms=60000)
        require_sipp()
        with start_sipp(scenario, (HOST, trunk.local[1]), workdir=tmp_path, service=DID, timeout=60) as far:
            channel = SipChannel(trunk, 1)
            call = channel.wait_for_call(5)
            assert call is not None
            stopped: list[float] = []
            kinds: list[ProgressKind] = []

            def stop() -> None:
                fax.close()  # the fax machine dies; its SIP side stays
                stopped.append(time.time())

            def progress(p: Progress) -> None:
                kinds.append(p.kind)
                if p.kind is ProgressKind.NEGOTIATED:  # DCS: TCF, CFR, then the page (~10 s)
                    threading.Timer(6.0, stop).start()

            result = channel.receive(call, ReceiveOptions(local_id="+1 212 555 0100"), lambda _page: None,
                                     progress)
            returned = time.time()
            sipp = far.wait(10)
    assert stopped, (result, kinds)
    assert ProgressKind.PAGE_DONE not in kinds, kinds
    assert result.cause is HangupCause.LINE_DROPPED, result
    assert f"for {media_timeout:g} s" in result.message, result.message
    assert media_timeout - 0.5 < returned - stopped[0] < media_timeout + 1.5, returned - stopped[0]
    assert sipp.ok, sipp.report()  # it got our BYE
    assert_idle(trunk)


# 6. a stale nonce on REGISTER ------------------------------------------------------------------
def test_stale_nonce_on_register_refresh_reregisters(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], tmp_path: Path
) -> None:
    """The registrar (SIPp) grants 2 s, then challenges the refresh with stale=true twice
    in a row (new nonces): each is answered with the new nonce, the trunk stays registered
    and never reports a refusal."""
    with sipp_uas("uas_registrar_stale.xml", tmp_path, expires=2, refresh_timeout_ms=5000) as registrar:
        trunk = trunk_factory(direct((HOST, registrar.port), registrar=(HOST, registrar.port),
                                     password="trunk-secret", register_expires=2.0))
        details: list[str] = []
        until = time.monotonic() + 3.0  # registered at 0, refreshed at 1 s (2 s granted)
        while time.monotonic() < until:
            details.append(trunk.registration.detail)
            time.sleep(0.02)
        sipp = registrar.wait(5)
    assert sipp.ok, sipp.report()
    assert [line.split()[0] for line in received_by_sipp(sipp)].count("REGISTER") == 5
    assert trunk.registration.registered, trunk.registration
    assert not any("refused" in d for d in details), details


# 7. malformed SIP and SDP --------------------------------------------------------------------
CALLER = "12125550199"
AUDIO_SDP = ("v=0\no=caller 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
             "m=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/8000")


def refused_caller(trunk: SipTrunk, tmp: Path, *, body: str = AUDIO_SDP, calls: int = 1,
                   extra: list[str] | None = None) -> SippProcess:
    """SIPp calling the trunk with uac_refused.xml (``calls`` INVITEs, each expecting a refusal)."""
    require_sipp()
    scenario = render_scenario("uac_refused.xml", tmp, from_user=CALLER, body=body.replace("\n", "\n      "),
                               timeout_ms=10000)
    return start_sipp(scenario, (HOST, trunk.local[1]), workdir=tmp, service=DID, calls=calls,
                      timeout=20, extra=extra)


def final_codes(result: SippResult) -> list[int]:
    """The final responses SIPp received, in order."""
    codes = [int(line.split()[1]) for line in received_by_sipp(result) if line.startswith("SIP/2.0")]
    return [c for c in codes if c >= 200]


def good_call(channel: SipChannel, trunk: SipTrunk, tmp: Path) -> None:
    """A caller (SIPp) the channel answers and switches to T.38; the caller then hangs up."""
    require_sipp()
    scenario = render_scenario("uac_t38_bye.xml", tmp / "good", media_port=free_udp_port(), from_user=CALLER,
                               bye_ms=300)
    with start_sipp(scenario, (HOST, trunk.local[1]), workdir=tmp / "good", service=DID, timeout=20) as far:
        call = channel.wait_for_call(5)
        assert call is not None and (call.caller_number, call.called_number) == (CALLER, DID)
        result = channel.receive(call, ReceiveOptions(local_id="+1 212 555 0100"), lambda _p: None,
                                 lambda _p: None)
        sipp = far.wait(10)
    assert sipp.ok, sipp.report()
    assert result.cause in (HangupCause.NO_CARRIER, HangupCause.LINE_DROPPED), result
    assert "hung up" in result.message, result.message
    assert_idle(trunk)


def raw_exchange(target: tuple[str, int], datagram: bytes, wait: float = 0.5) -> bytes | None:
    """Send one datagram to ``target`` from a new socket; the first answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        sock.settimeout(wait)
        port = sock.getsockname()[1]
        sock.sendto(datagram.replace(b"MYPORT", str(port).encode()), target)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def _request(*lines: str, body: str = "") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


BAD_CSEQ = _request(
    "OPTIONS sip:12125550100@127.0.0.1 SIP/2.0",
    "Via: SIP/2.0/UDP 127.0.0.1:MYPORT;branch=z9hG4bK-bad1;rport",
    "From: <sip:x@127.0.0.1>;tag=1", "To: <sip:12125550100@127.0.0.1>", "Call-ID: bad1@test",
    "CSeq: one OPTIONS", "Max-Forwards: 70", "Content-Length: 0")
NO_COLON = _request(
    "OPTIONS sip:12125550100@127.0.0.1 SIP/2.0",
    "Via: SIP/2.0/UDP 127.0.0.1:MYPORT;branch=z9hG4bK-bad2;rport",
    "From: <sip:x@127.0.0.1>;tag=1", "To: <sip:12125550100@127.0.0.1>", "Call-ID: bad2@test",
    "CSeq: 1 OPTIONS", "this line is no header", "Content-Length: 0")
HUGE_LENGTH = _request(
    "INVITE sip:12125550100@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:MYPORT;branch=z9hG4bK-bad3;rport",
    "From: <sip:x@127.0.0.1>;tag=1", "To: <sip:12125550100@127.0.0.1>", "Call-ID: bad3@test",
    "CSeq: 1 INVITE", "Contact: <sip:x@127.0.0.1:MYPORT>", "Max-Forwards: 70",
    "Content-Type: application/sdp", "Content-Length: 99999999999", body=AUDIO_SDP.replace("\n", "\r\n"))
GARBAGE = bytes(range(256)) * 3 + b"\r\n\r\nSIP/2.0\r\n"


@pytest.mark.parametrize(("name", "datagram"), [("bad CSeq", BAD_CSEQ), ("no colon", NO_COLON),
                                                 ("absurd Content-Length", HUGE_LENGTH)],
                         ids=["bad-cseq", "no-colon", "absurd-content-length"])
def test_malformed_request_is_answered_400(
    name: str, datagram: bytes, trunk_factory: Callable[[TrunkSettings], SipTrunk]
) -> None:
    trunk = trunk_factory(direct((HOST, free_udp_port())))
    answer = raw_exchange((HOST, trunk.local[1]), datagram)
    assert answer is not None, f"no answer to a request with {name}"
    status = answer.split(b"\r\n", 1)[0].decode()
    assert status.startswith("SIP/2.0 400 Bad Request (") and status.endswith(")"), status
    assert len(status) > len("SIP/2.0 400 Bad Request ()"), status  # with the reason
    assert not trunk.calls and trunk.incoming.empty()


def test_garbage_and_bad_sdp_leave_the_trunk_working(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], tmp_path: Path
) -> None:
    """Garbage is dropped unanswered; an INVITE whose SDP cannot be parsed is refused 488
    with the parser's reason once a channel takes it (never answered with an offer of our
    own as if it had none); a good call goes through right after."""
    trunk = trunk_factory(direct((HOST, free_udp_port())))
    channel = SipChannel(trunk, 1)
    assert raw_exchange((HOST, trunk.local[1]), GARBAGE, wait=0.3) is None
    assert raw_exchange((HOST, trunk.local[1]), b"\x00" * 1400, wait=0.3) is None
    with refused_caller(trunk, tmp_path / "sdp", body="v=0\nthis is no SDP\nm=audio what RTP/AVP") as far:
        call = channel.wait_for_call(5)
        assert call is not None
        result = channel.receive(call, ReceiveOptions(), lambda _p: None, lambda _p: None)
        sipp = far.wait(10)
    assert sipp.ok, sipp.report()
    assert final_codes(sipp) == [488], sipp.report()
    refusal = next(line for line in received_by_sipp(sipp) if line.startswith("SIP/2.0 488"))
    assert "SDP" in refusal, refusal
    assert result.cause is HangupCause.PROTOCOL_ERROR and "SDP" in result.message, result
    assert_idle(trunk)
    good_call(channel, trunk, tmp_path)


# 8. INVITEs from outside the trunk, and a flood -----------------------------------------------------
def test_invite_from_outside_the_trunk_is_forbidden(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], tmp_path: Path
) -> None:
    """The trunk's proxy is 127.0.0.1; a caller on 127.0.0.2 gets 403 and never rings a channel."""
    trunk = trunk_factory(direct((HOST, free_udp_port())))
    channel = SipChannel(trunk, 1)
    with refused_caller(trunk, tmp_path, extra=["-i", "127.0.0.2"]) as far:
        assert channel.wait_for_call(1.0) is None
        sipp = far.wait(10)
    assert sipp.ok, sipp.report()
    assert final_codes(sipp) == [403], sipp.report()
    assert "180" not in " ".join(received_by_sipp(sipp))
    assert_idle(trunk)


def test_invite_flood_is_refused_503_without_taking_channels(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], tmp_path: Path
) -> None:
    """Six INVITEs within 60 ms to a trunk allowing 2 a second (3 channels free): the first
    two ring (and are declined by the channel, 603), the other four get 503 and never reach
    a channel."""
    trunk = trunk_factory(direct((HOST, free_udp_port()), channels=3, max_invites_per_second=2.0))
    channel = SipChannel(trunk, 1)
    with refused_caller(trunk, tmp_path, calls=6, extra=["-r", "100"]) as far:
        declined = 0
        while (call := channel.wait_for_call(1.0)) is not None:
            channel.decline(call, "test")
            declined += 1
        sipp = far.wait(10)
    assert sipp.ok, sipp.report()
    assert declined == 2
    assert sorted(final_codes(sipp)) == [503] * 4 + [603] * 2, sipp.report()
    assert_idle(trunk)


# 9. a declined caller, and every channel busy ----------------------------------------------------------
def test_declined_caller_gets_603_and_a_busy_trunk_503(
    trunk_factory: Callable[[TrunkSettings], SipTrunk], tmp_path: Path
) -> None:
    """One channel: the first caller rings it (the line declines it as junk: 603); a second
    caller arriving meanwhile finds every channel taken: 503.  Then a good call."""
    trunk = trunk_factory(direct((HOST, free_udp_port())))
    channel = SipChannel(trunk, 1)
    with refused_caller(trunk, tmp_path, calls=2, extra=["-r", "5"]) as far:
        call = channel.wait_for_call(2.0)
        assert call is not None and call.caller_number == CALLER
        time.sleep(0.5)  # the second INVITE comes 0.2 s after the first
        channel.decline(call, "junk caller")
        sipp = far.wait(10)
    assert sipp.ok, sipp.report()
    assert final_codes(sipp) == [503, 603], sipp.report()
    assert_idle(trunk)
    good_call(channel, trunk, tmp_path)


# 10. TCP ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_register_and_call_over_tcp_through_kamailio(
    kamailio: Callable[..., KamailioServer], trunk_factory: Callable[[TrunkSettings], SipTrunk],
    tmp_path: Path,
) -> None:
    """The trunk on TCP: REGISTER (401 digest) and a call through kamailio, whose far end
    (SIPp, on UDP behind kamailio) answers, refuses T.38 (488): the re-INVITE, its ACK and
    our BYE all cross the TCP connection and kamailio's record-route."""
    require_sipp()
    far_port = free_udp_port()
    sip = kamailio({DID: "trunk-secret"}, next_hop=(HOST, far_port))
    scenario = render_scenario("uas_t38_refused.xml", tmp_path, media_port=free_udp_port(), code=488,
                               reason="Not Acceptable Here", bye_timeout_ms=10000)
    with start_sipp(scenario, workdir=tmp_path, port=far_port, timeout=30) as far:
        trunk = trunk_factory(direct((sip.host, sip.port), registrar=(sip.host, sip.port), proxy=None,
                                     transport="tcp", password="trunk-secret", t38="require"))
        channel = SipChannel(trunk, 1)
        status = channel.probe()
        assert status.ok and status.registration.startswith("registered"), status
        result = send(channel)
        sipp = far.wait(10)
    assert result.cause is HangupCause.NO_T38 and "488" in result.message, result
    assert sipp.ok, sipp.report()
    assert "BYE" in " ".join(received_by_sipp(sipp))
    invite = next(m.text for m in sipp_messages(sipp) if not m.sent)
    assert "Via: SIP/2.0/TCP" in invite and "Record-Route" in invite, invite  # our hop was TCP
    assert_idle(trunk)
