"""Forwarding a call by blind transfer (modem.siptrunk.transfer.forward) against SIPp as
the caller who is transferred: it calls the trunk, we answer, we REFER it to the target;
it answers 202 and reports the target's answer by NOTIFY (100 then 200, or a failure), or
refuses the REFER.  Each ends with our BYE and nothing left on the trunk; tshark decodes
the SIP of a good transfer without a problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modem.siptrunk import SipTrunk
from modem.siptrunk.transfer import forward
from modem.siptrunk.trunk import Call
from tests.servers import tshark
from tests.servers.ports import HOST, free_udp_port
from tests.servers.sip_fixtures import require_sipp
from tests.servers.sipp import SippProcess, render_scenario, start_sipp
from tests.sip.test_trunk_faults import DID, assert_idle, direct

pytestmark = [pytest.mark.sip_peers]

CALLER = "12125550177"
TARGET = "sip:reception@pbx.example"


@pytest.fixture
def trunk() -> Iterator[SipTrunk]:
    trunk = SipTrunk(direct(("127.0.0.1", 9)))  # the caller calls us; we never call out
    trunk.start()
    yield trunk
    trunk.close()


def caller(trunk: SipTrunk, tmp: Path, scenario: str, port: int | None = None,
           **values: object) -> SippProcess:
    require_sipp()
    path = render_scenario(scenario, tmp, media_port=free_udp_port(), from_user=CALLER, **values)
    return start_sipp(path, (HOST, trunk.local[1]), workdir=tmp, port=port, service=DID, timeout=20)


def answered(trunk: SipTrunk) -> Call:
    """The caller's call, answered with audio (as the voice path answers before it forwards)."""
    call = trunk.incoming.get(timeout=5)
    sdp = (f"v=0\r\no=umfax 1 1 IN IP4 {HOST}\r\ns=-\r\nc=IN IP4 {HOST}\r\nt=0 0\r\n"
           f"m=audio {free_udp_port()} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n").encode()
    trunk.act(lambda ua, now: ua.answer(call.call_id, sdp, now))
    return call


def test_forwarded_by_refer(trunk: SipTrunk, tmp_path: Path,
                            loopback_capture: Callable[..., tshark.LoopbackCapture]) -> None:
    port = free_udp_port()
    capture = loopback_capture(tshark.udp_ports_filter(trunk.local[1], port))
    with caller(trunk, tmp_path, "uac_refer.xml", port, refer_to=TARGET, final="200 OK") as far:
        call = answered(trunk)
        ok, detail = forward(trunk, call, TARGET, timeout=10)
        assert (ok, detail) == (True, f"forwarded to {TARGET}")
        result = far.wait(10)
        assert result.ok, result.report()
    trunk.forget(call)  # what the channel does after every call
    assert call.ended.is_set()
    assert_idle(trunk)
    capture.stop()
    decode = [f"udp.port=={p},sip" for p in (trunk.local[1], port)]
    assert tshark.problem_counts(capture.file, decode, ("sip",))["sip"] == 0
    assert tshark.protocol_frames(capture.file, "sip.Method == REFER", decode) == 1
    assert tshark.protocol_frames(capture.file, "sip.Method == NOTIFY && sipfrag", decode) == 2
    assert tshark.protocol_frames(capture.file, "sip.Status-Code == 202", decode) == 1


def test_target_busy_is_a_failed_forward(trunk: SipTrunk, tmp_path: Path) -> None:
    with caller(trunk, tmp_path, "uac_refer.xml", refer_to=TARGET, final="486 Busy Here") as far:
        call = answered(trunk)
        ok, detail = forward(trunk, call, TARGET, timeout=10)
        assert (ok, detail) == (False, f"forward to {TARGET} failed: 486 Busy Here")
        assert not call.ended.is_set()  # a failed transfer leaves the call to its owner
        trunk.act(lambda ua, now: ua.hangup(call.call_id, now))
        result = far.wait(10)
        assert result.ok, result.report()
    trunk.forget(call)
    assert_idle(trunk)


def test_refer_refused(trunk: SipTrunk, tmp_path: Path) -> None:
    with caller(trunk, tmp_path, "uac_refer_refused.xml") as far:
        call = answered(trunk)
        ok, detail = forward(trunk, call, TARGET, timeout=10)
        assert (ok, detail) == (False, f"forward to {TARGET} failed: 603 REFER refused (Decline)")
        trunk.act(lambda ua, now: ua.hangup(call.call_id, now))
        result = far.wait(10)
        assert result.ok, result.report()
    trunk.forget(call)
    assert_idle(trunk)


def test_caller_leaves_after_accepting(trunk: SipTrunk, tmp_path: Path) -> None:
    """A transferee that hangs up after its 202 with no final NOTIFY has left us for the
    target: forwarded, with the detail saying no final status came."""
    with caller(trunk, tmp_path, "uac_refer_bye.xml", refer_to=TARGET) as far:
        call = answered(trunk)
        ok, detail = forward(trunk, call, TARGET, timeout=10)
        assert ok and detail == f"forwarded to {TARGET} (the caller left after accepting; no final status)"
        result = far.wait(10)
        assert result.ok, result.report()
    trunk.forget(call)
    assert_idle(trunk)


def test_caller_hangs_up_instead_of_answering_the_refer(trunk: SipTrunk, tmp_path: Path) -> None:
    with caller(trunk, tmp_path, "uac_refer_hangup.xml") as far:
        call = answered(trunk)
        ok, detail = forward(trunk, call, TARGET, timeout=10)
        assert (ok, detail) == (False, f"forward to {TARGET} failed: the caller hung up before accepting "
                                       "the transfer")
        result = far.wait(10)
        assert result.ok, result.report()
    trunk.forget(call)
    assert_idle(trunk)
