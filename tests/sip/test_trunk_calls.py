"""umfax's SIP trunk channels (modem.siptrunk) calling and answering real peers in real time:
kamailio as the trunk (digest registrar, 407 proxy auth, record-route), SIPp as the far
end's SIP, a spandsp T.38 terminal as the far end's fax machine, tshark checking what
crossed loopback.  A page takes about 20 s of line time, so only a representative set
runs here; the matrix of modes runs in virtual time in tests/modem/t38/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modem.api import PageImage, ReceivedPage, ReceiveOptions, SendOptions
from modem.siptrunk import SipChannel, SipTrunk, TrunkSettings
from tests.modem.pages import decode, encode
from tests.peers.faximage import load_fax_pages, make_test_page
from tests.servers import tshark
from tests.servers.kamailio import KamailioServer
from tests.servers.ports import HOST, free_udp_port
from tests.servers.sip_fixtures import require_sipp, require_spandsp
from tests.servers.sipp import render_scenario, start_sipp
from tests.servers.t38_fax import T38Fax
from umfax.lines.pages import recode_image

pytestmark = [pytest.mark.sip_peers, pytest.mark.slow]

USER, PASSWORD = "12125550100", "trunk-secret"
CALLER, CALLER_PASSWORD = "12125550199", "far-secret"


def settings(sip: KamailioServer, **more: object) -> TrunkSettings:
    values: dict[str, object] = {
        "name": "carrier",
        "listen": (HOST, 0),
        "registrar": (sip.host, sip.port),
        "username": USER,
        "password": PASSWORD,
        "media_ports": media_ports(),
        "channels": 2,
        "dids": (f"+{USER}",),
        "t38_reinvite_after": 0.5,
    }
    values.update(more)
    return TrunkSettings(**values)  # type: ignore[arg-type]


def media_ports() -> tuple[int, int]:
    """A small range the system just had free (another process could take one; the pool
    skips ports it cannot bind)."""
    low = min(free_udp_port(), 64000)
    return low, low + 20


@pytest.fixture
def trunk_factory() -> Iterator[Callable[[TrunkSettings], SipTrunk]]:
    trunks: list[SipTrunk] = []

    def make(s: TrunkSettings) -> SipTrunk:
        trunk = SipTrunk(s)
        trunks.append(trunk)
        return trunk

    yield make
    for trunk in trunks:
        trunk.close()


@pytest.fixture
def page(tmp_path: Path) -> Path:
    require_spandsp()
    return make_test_page(tmp_path / "page.tif", resolution="fine")


@pytest.mark.long_call  # tests/sip/test_serve_trunk.py sends such a call (and captures it) by default
def test_send_a_page_through_kamailio_to_a_t38_fax_machine(
    kamailio: Callable[..., KamailioServer],
    trunk_factory: Callable[[TrunkSettings], SipTrunk],
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    page: Path,
    tmp_path: Path,
) -> None:
    """umfax registers (401), calls through kamailio (407, record-route) to SIPp, which
    answers with audio and accepts our T.38 re-INVITE; the page reaches spandsp intact."""
    require_sipp()
    far_sip = free_udp_port()
    sip = kamailio({USER: PASSWORD}, next_hop=(HOST, far_sip))
    received = tmp_path / "received.tif"
    fax = T38Fax(calling=False, receive_tiff=received)
    scenario = render_scenario("uas_t38.xml", tmp_path, media_port=fax.port, fax_timeout_ms=90000)
    trunk = trunk_factory(settings(sip))
    channel = SipChannel(trunk, 1)
    status = channel.probe()
    assert status.ok and status.registration.startswith("registered"), status
    low, high = trunk.settings.media_ports
    capture = loopback_capture(tshark.udp_ports_filter(sip.port, far_sip, fax.port, *range(low, high + 1)))
    ink = load_fax_pages(page)[0]
    image = encode_ink(ink)
    with start_sipp(scenario, workdir=tmp_path, port=far_sip, timeout=120) as far_end, fax:
        notes: list[str] = []
        options = SendOptions(local_id="+1 212 555 0100", recode=recode_image)
        result = channel.send("12125550110", [image], options, lambda p: notes.append(str(p.kind)))
        sipp = far_end.wait(30)
        fax_result = fax.wait(30)
    capture.stop()
    assert result.ok, (result, sip.log_text()[-2000:])
    assert result.pages_done == 1 and result.ecm
    assert notes[:2] == ["dialing", "connected"] and "page_done" in notes, notes
    assert sipp.ok, sipp.report()
    assert fax_result.ok, fax_result
    got = load_fax_pages(received)
    assert len(got) == 1 and np.array_equal(got[0][: ink.shape[0]], ink[: got[0].shape[0]])
    decode_as = tshark.t38_decode_as(fax.port)
    counts = tshark.problem_counts(capture.file, decode_as, malformed_only=True)
    assert not any(counts.values()), tshark.problems(capture.file, decode_as)
    controls = tshark.facsimile_controls(capture.file, decode_as)
    assert_t30_order(controls, ["DIS", "DCS", "CFR", "PPS" if result.ecm else "EOP", "MCF", "DCN"])
    assert controls[-1] == "DCN" and controls.count("PPS") == 1, controls  # one page, one block


def assert_t30_order(controls: list[str], expected: list[str]) -> None:
    """tshark's T.30 frames contain ``expected`` in this order (with others between)."""
    at = 0
    for name in expected:
        assert name in controls[at:], f"{name} missing after {controls[:at]} in {controls}"
        at = controls.index(name, at) + 1


def encode_ink(ink: np.ndarray) -> PageImage:
    """A fax page (MMR, fine) of a pixel array (True = ink)."""
    return encode(Image.fromarray(~ink), "mmr", 196.0)  # mode "1": ink is 0 (black)


@pytest.mark.long_call  # tests/sip/test_serve_trunk.py answers such a call in the default run
def test_answer_a_fax_from_a_caller_through_kamailio(
    kamailio: Callable[..., KamailioServer],
    trunk_factory: Callable[[TrunkSettings], SipTrunk],
    page: Path,
    tmp_path: Path,
) -> None:
    """A fax machine (SIPp + spandsp) calls our DID through kamailio, which finds us by our
    registration; we answer with audio, switch the call to T.38 ourselves (T.38 Annex D),
    and receive the page; the caller ID and the called number reach the line."""
    require_sipp()
    sip = kamailio({USER: PASSWORD, CALLER: CALLER_PASSWORD})
    trunk = trunk_factory(settings(sip))
    channel = SipChannel(trunk, 1)
    assert channel.probe().ok
    fax = T38Fax(calling=True, send_tiff=page)
    scenario = render_scenario("uac_t38.xml", tmp_path, media_port=fax.port, from_user=CALLER,
                               fax_timeout_ms=90000)
    pages: list[ReceivedPage] = []
    with fax, start_sipp(scenario, (sip.host, sip.port), workdir=tmp_path, service=USER,
                         auth=(CALLER, CALLER_PASSWORD), timeout=120) as far_end:
        call = channel.wait_for_call(15)
        assert call is not None
        assert (call.caller_number, call.called_number) == (CALLER, USER)
        result = channel.receive(call, ReceiveOptions(local_id="+1 212 555 0100"), pages.append,
                                 lambda _p: None)
        sipp = far_end.wait(30)
        sent = fax.wait(30)
    assert result.ok and result.pages_done == 1, (result.message, sent)
    assert sipp.ok, sipp.report()
    assert sent.ok, sent
    ink = load_fax_pages(page)[0]
    got = decode(pages[0].image)
    assert np.array_equal(got[: ink.shape[0]], ink[: got.shape[0]])
