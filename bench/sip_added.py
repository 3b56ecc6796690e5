"""The SIP bench's third figure: the time umfax adds per call beyond T.30's own exchanges,
measured on the wire.

One real call from :class:`modem.siptrunk.SipChannel` (``send``, one page) over loopback:
SIPp (``tests/sip_scenarios/uas_t38.xml``) answers with audio and accepts our T.38
re-INVITE, spandsp's T.38 terminal (:class:`tests.servers.t38_fax.T38Fax`) is the fax
machine on the far end's media port (its default capabilities: MH/MR, so the page is
recoded by umfax's recoder as the server would), and ``dumpcap`` captures it all; tshark then gives
each packet's time:

* setup: ``send()`` called -> our INVITE -> their 200 OK -> our ACK -> our T.38 re-INVITE
  -> their 200 OK -> our ACK / our first UDPTL datagram (CNG);
* teardown: the datagram completing our DCN -> our BYE.

umfax's own share is what lies between a far end's message and our next one (and from
``send()`` to the INVITE); the far end's answer times are printed beside it.  This far end
never re-INVITEs, so as the caller umfax waits ``t38_reinvite_after`` (T.38 Annex D: the
called side is expected to re-INVITE) before sending its own: that configured wait is
shown apart.  The trunk has no registrar here (``proxy`` = SIPp).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sip_page import text_page
from modem.api import SendOptions
from modem.siptrunk import SipChannel, SipTrunk, TrunkSettings
from tests.servers import tshark
from tests.servers.ports import HOST, free_udp_port
from tests.servers.sipp import render_scenario, start_sipp
from tests.servers.t38_fax import T38Fax
from umfax.lines.pages import recode_image

DCN = 95  # t30.FacsimileControl
MEDIA_TIMEOUT = 120.0
"""Not the default 30 s: run_t38 counts silence from the far end while *we* transmit, and
spandsp sends nothing while it receives a page; this page (recoded to MR for this far end)
takes longer than 30 s to send, so the default ends the call as line_dropped mid-page."""


@dataclass(frozen=True)
class AddedTime:
    ok: bool
    detail: str
    reinvite_wait: float  # the configured t38_reinvite_after
    steps: dict[str, float]  # name -> seconds

    @property
    def setup_ours(self) -> float:
        return (self.steps["send() -> INVITE"] + self.steps["200 -> ACK"]
                + self.steps["ACK -> re-INVITE"] - self.reinvite_wait
                + self.steps["200 (re-INVITE) -> first UDPTL"])

    @property
    def teardown_ours(self) -> float:
        return self.steps["DCN -> BYE"]


def _first(rows: list[dict[str, str]], after: float, **want: str) -> float:
    for row in rows:
        if float(row["time"]) >= after and all(row.get(k) == v for k, v in want.items()):
            return float(row["time"])
    raise LookupError(f"no packet {want} after {after}")


def measure_added_time(*, reinvite_wait: float = 3.0) -> AddedTime:
    """One call; the timings of its setup and teardown."""
    page = text_page()
    with tempfile.TemporaryDirectory(prefix="umfax-sip-added-") as tmp_name:
        tmp = Path(tmp_name)
        far_sip = free_udp_port()
        fax = T38Fax(calling=False, receive_tiff=tmp / "received.tif")
        scenario = render_scenario("uas_t38.xml", tmp, media_port=fax.port, fax_timeout_ms=120000)
        low = min(free_udp_port(), 64000)
        settings = TrunkSettings(name="bench", listen=(HOST, 0), proxy=(HOST, far_sip),
                                 media_ports=(low, low + 20), channels=1, dids=("+12125550100",),
                                 t38_reinvite_after=reinvite_wait, media_timeout=MEDIA_TIMEOUT)
        trunk = SipTrunk(settings)
        capture = tshark.LoopbackCapture(
            tmp / "call.pcapng", tshark.udp_ports_filter(far_sip, fax.port, *range(low, low + 21)))
        try:
            channel = SipChannel(trunk, 1)
            trunk.start()  # (send() on a trunk not yet started fails: it reads contact_host first)
            capture.start()
            with start_sipp(scenario, workdir=tmp, port=far_sip, timeout=150) as far_end, fax:
                called = time.time()
                result = channel.send("12125550110", [page], SendOptions(local_id="+1 212 555 0100",
                                                                          recode=recode_image),
                                      lambda _p: None)
                sipp = far_end.wait(30)
                fax_result = fax.wait(30)
            capture.stop()
        finally:
            capture.stop(sync=False)
            trunk.close()
        fields = ["frame.time_epoch", "udp.srcport", "udp.dstport", "sip.Method", "sip.Status-Code",
                  "sip.CSeq.method", "t30.FacsimileControl", "t38.seq_number"]
        raw = tshark._tshark(capture.file, ["-Y", "sip or t38", *(a for f in fields for a in ("-e", f))],
                             tshark.t38_decode_as(fax.port))
    rows = [dict(zip(["time", "src", "dst", "method", "status", "cseq", "t30", "t38"], r, strict=False))
            for r in raw]
    ok = result.ok and sipp.ok and fax_result.ok
    detail = (f"umfax {result.cause}, SIPp {'ok' if sipp.ok else 'failed'}, "
              f"spandsp {fax_result.completion_text}")
    if not ok:
        return AddedTime(False, detail, reinvite_wait, {})
    us, them = str(far_sip), str(fax.port)
    invite = _first(rows, 0, dst=us, method="INVITE")
    ok200 = _first(rows, invite, src=us, status="200", cseq="INVITE")
    ack = _first(rows, ok200, dst=us, method="ACK")
    reinvite = _first(rows, ack, dst=us, method="INVITE")
    ok200b = _first(rows, reinvite, src=us, status="200", cseq="INVITE")
    first_t38 = min(float(r["time"]) for r in rows if r.get("dst") == them and r.get("t38"))
    dcn = max(float(r["time"]) for r in rows
              if r.get("dst") == them and str(DCN) in (r.get("t30") or "").split(","))
    bye = _first(rows, dcn, dst=us, method="BYE")
    steps = {
        "send() -> INVITE": invite - called,
        "INVITE -> 200 (far end)": ok200 - invite,
        "200 -> ACK": ack - ok200,
        "ACK -> re-INVITE": reinvite - ack,
        "re-INVITE -> 200 (far end)": ok200b - reinvite,
        "200 (re-INVITE) -> first UDPTL": first_t38 - ok200b,
        "DCN -> BYE": bye - dcn,
    }
    return AddedTime(True, detail, reinvite_wait, steps)
