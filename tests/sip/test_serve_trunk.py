"""``umfax serve`` with a SIP trunk ([[trunks]]) end to end, in real time: it registers
with kamailio, sends a queued job as T.38 to a fax machine behind the trunk (SIPp's SIP,
spandsp's T.38 terminal), and answers that machine's fax into the inbox."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import schemas
from tests.peers.faximage import load_fax_pages, make_test_page
from tests.servers import tshark
from tests.servers.kamailio import KamailioServer
from tests.servers.ports import HOST, free_udp_port
from tests.servers.sip_fixtures import require_sipp, require_spandsp
from tests.servers.sipp import render_scenario, start_sipp
from tests.servers.t38_fax import T38Fax
from tests.servers.umfax_site import UmfaxSite
from tests.sip.test_trunk_calls import assert_t30_order

pytestmark = [pytest.mark.sip_peers, pytest.mark.slow]

USER, PASSWORD = "12125550100", "trunk-secret"
CALLER, CALLER_PASSWORD = "12125550199", "far-secret"


def trunk_toml(sip: KamailioServer, low: int) -> str:
    return f"""
[[trunks]]
name = "carrier"
registrar = "{sip.host}:{sip.port}"
username = "{USER}"
password_env = "UMFAX_TEST_SIP_PASSWORD"
listen = "{HOST}:0"
media_ports = "{low}-{low + 10}"
channels = 2
dids = ["+{USER}"]
t38_reinvite_after = "0.5s"
"""


# 67 s.  By default: serve answering on a trunk (test_voicemail); sending on a trunk
# (test_g711_fax, test_trunk_faults).
@pytest.mark.long_call
def test_serve_sends_and_answers_faxes_over_a_sip_trunk(
    site: UmfaxSite,
    kamailio: Callable[..., KamailioServer],
    loopback_capture: Callable[..., tshark.LoopbackCapture],
    tmp_path: Path,
) -> None:
    """tshark, decoding everything that crossed loopback, finds no malformed SIP, SDP or
    T.38, and the T.30 exchange of each call in order."""
    require_sipp()
    require_spandsp()
    far_sip = free_udp_port()
    sip = kamailio({USER: PASSWORD, CALLER: CALLER_PASSWORD}, next_hop=(HOST, far_sip))
    low = min(free_udp_port(), 64000)
    site.config.write_text(site.config.read_text() + trunk_toml(sip, low))
    site.env["UMFAX_TEST_SIP_PASSWORD"] = PASSWORD
    site.start()
    lines = site.json("lines")
    assert [line["name"] for line in lines] == ["carrier-1", "carrier-2"]
    for line in lines:
        schemas.validate("line", line)
        assert line["port"].startswith("sip:carrier/") and line["registration"].startswith("registered")
    assert "UMFAX_TEST_SIP_PASSWORD" not in site.logs() and PASSWORD not in site.logs()

    # out: a queued job becomes a T.38 call through kamailio to the fax machine
    document = tmp_path / "letter.txt"
    document.write_text("Over the trunk: the quick brown fox jumps over the lazy dog.\n" * 12)
    received = tmp_path / "received.tif"
    fax = T38Fax(calling=False, receive_tiff=received)
    capture = loopback_capture(tshark.udp_ports_filter(sip.port, far_sip, fax.port, *range(low, low + 11)))
    scenario = render_scenario("uas_t38.xml", tmp_path, media_port=fax.port, fax_timeout_ms=90000)
    with start_sipp(scenario, workdir=tmp_path / "out", port=far_sip, timeout=150) as far_end, fax:
        site.cli("send", "+1 212 555 0110", str(document), "--no-cover", "--wait", timeout=180)
        assert far_end.wait(30).ok
        assert fax.wait(30).ok
    (job,) = site.json("jobs")
    shown = site.json("show", str(job["id"]))
    (attempt,) = shown["attempts"]
    assert shown["state"] == "sent" and attempt["result"] == "ok" and attempt["line"].startswith("carrier-")
    assert attempt["transport"] == "t38"
    assert len(load_fax_pages(received)) == 1
    capture.stop()
    decode_as = tshark.t38_decode_as(fax.port)
    counts = tshark.problem_counts(capture.file, decode_as, malformed_only=True)
    assert not any(counts.values()), tshark.problems(capture.file, decode_as)
    controls = tshark.facsimile_controls(capture.file, decode_as)
    assert_t30_order(controls, ["DIS", "DCS", "CFR", "PPS" if attempt["ecm"] else "EOP", "MCF", "DCN"])
    assert tshark.protocol_frames(capture.file, "sip.Status-Code == 407") >= 1  # proxy auth of the INVITE

    # in: the machine calls our DID; the fax lands in the inbox with its caller ID
    page = make_test_page(tmp_path / "page.tif", resolution="fine")
    fax = T38Fax(calling=True, send_tiff=page)
    scenario = render_scenario("uac_t38.xml", tmp_path, media_port=fax.port, from_user=CALLER,
                               fax_timeout_ms=90000)
    with fax, start_sipp(scenario, (sip.host, sip.port), workdir=tmp_path / "in", service=USER,
                         auth=(CALLER, CALLER_PASSWORD), timeout=150) as far_end:
        site.wait_for(lambda: any(f["state"] == "received" for f in site.json("inbox")), 120, "the fax")
        assert far_end.wait(30).ok
        assert fax.wait(30).ok
    (inbound,) = site.json("inbox")
    schemas.validate("inbound", inbound)
    assert inbound["pages"] == 1 and inbound["line"].startswith("carrier-") and inbound["transport"] == "t38"
    assert CALLER in inbound["caller_number"] and USER in inbound["called_number"]
