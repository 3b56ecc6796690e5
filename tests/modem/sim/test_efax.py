"""efax, a third-party Class 1 DTE, driving the simulated modems.

These prove the simulated modems behave like real Class 1 modems to a DTE we
did not write, and that the spandsp remote machines interoperate with it.

Speed: efax divides by the page's wall-clock transmission time in whole
seconds, so a page must take at least a second on the wall (it dies with
SIGFPE otherwise); speed 10 with a 31 kB page keeps that true.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from modem.sim import SimModem, build_exchange, default_network
from modem.sim.line import FCF_DCS, FCF_MCF
from modem.sim.spandsp import SpandspFax
from tests.modem.sim.conftest import (
    efax_page_bitmap,
    matching_rows,
    needs_efax,
    needs_spandsp,
    tiff_bitmap,
)

pytestmark = [needs_efax, needs_spandsp, pytest.mark.slow]

SPEED = 10


def efax_send(line: SimModem, number: str, page: Path, timeout: float = 60,
              local_id: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["efax", "-d", line.device, "-v", "ewinc", "-l", local_id, "-t", number, str(page)],
        capture_output=True, text=True, timeout=timeout,
    )


def efax_receiver(line: SimModem, prefix: Path) -> subprocess.Popen[str]:
    """efax waiting for a call; the simulated modem auto-answers on the first ring."""
    return subprocess.Popen(
        ["efax", "-d", line.device, "-v", "ewinc", "-w", "-iS0=1", "-r", str(prefix)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def wait_ready(line: SimModem, timeout: float = 10) -> None:
    """Wait until efax has initialised the modem on ``line`` (its last query is +FRM=?).

    A call arriving earlier would be aborted by efax's next command, as on a real modem.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if b"AT+FRM=?\r" in line.dte_log:
            time.sleep(0.2)
            return
        time.sleep(0.02)
    raise TimeoutError("efax never initialised the modem")


def test_efax_sends_to_spandsp_receiver(page_tiff: Path) -> None:
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line("+15550100", "line1")
        rx = ex.add_remote("+15550110", "receiver", ident="SPANDSP RX")
        assert isinstance(rx, SpandspFax)
        p = efax_send(line, "15550110", page_tiff)
        assert p.returncode == 0, p.stderr[-3000:]
        assert "received MCF" in p.stderr
        assert "SPANDSP RX" in p.stderr  # efax saw the receiver's CSI
        got = rx.wait_session(30)
        assert got is not None and got.ok, got
        assert got.pages == 1 and got.bit_rate == 14400 and not got.ecm
        assert got.tiff is not None
        sent_px = tiff_bitmap(page_tiff)
        same, compared = matching_rows(sent_px, tiff_bitmap(got.tiff))
        assert compared > 1000 and same == compared  # identical below efax's header

        # Simulated timing: every high-speed carrier took at least the time its
        # bits need at its bit rate (flow control paced efax to the line rate).
        call = ex.calls[-1]
        assert call.frames(line)[:2] == [0x42, FCF_DCS]  # TSI, DCS
        assert FCF_MCF in call.frames(rx)
        fast = [c for c in call.carriers if c.mod != 3 and c.octets]
        assert {c.mod for c in fast} == {145, 146}  # TCF long train, page short train
        for c in fast:
            assert c.data_start is not None and c.data_end is not None
            assert c.data_end - c.data_start >= c.octets * 8 / c.rate * 0.97
        tcf = next(c for c in fast if c.tcf)
        assert tcf.octets == 2700  # 1.5 s of zeros at 14,400 bit/s
        assert call.duration > 30  # simulated seconds; the wall saw about a tenth


def test_efax_to_efax_between_local_lines(page_tiff: Path, tmp_path: Path) -> None:
    """On the no-config network, a fax to the other local line comes back in on it."""
    with default_network(speed=SPEED) as net:
        a = net.modem_for_port("sim:line1")
        b = net.modem_for_port("sim:+15550101")
        rx = efax_receiver(b, tmp_path / "fax")
        try:
            wait_ready(b)
            p = efax_send(a, "+1 555 0101", page_tiff, local_id="+1 555 0100")
            assert p.returncode == 0, p.stderr[-3000:]
            _, err = rx.communicate(timeout=30)
        finally:
            if rx.poll() is None:
                rx.kill()
                rx.wait()
        assert rx.returncode == 0, err[-3000:]
        assert re.search(r"remote ID -> +\+1 555 0100", err)  # the TSI crossed the line
        assert b"NMBR = +15550100" in b.dce_log  # caller ID came with the RING
        pages = sorted(tmp_path.glob("fax.*"))
        assert [x.name for x in pages] == ["fax.001"]
        got_px = efax_page_bitmap(pages[0], tmp_path)
        same, compared = matching_rows(tiff_bitmap(page_tiff), got_px)
        assert compared > 1000 and same == compared
        call = net.exchange.calls[-1]
        assert call.caller is a and call.callee is b and call.reason == "hangup"


def test_spandsp_sender_to_efax_inbound(page_tiff: Path, tmp_path: Path) -> None:
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line("+15550101", "line2")
        tx = ex.add_remote("+15550120", "sender", ident="SPANDSP TX")
        assert isinstance(tx, SpandspFax)
        rx = efax_receiver(line, tmp_path / "in")
        try:
            wait_ready(line)
            sess = tx.send("15550101", page_tiff)
            assert sess.done.wait(60)
            _, err = rx.communicate(timeout=30)
        finally:
            if rx.poll() is None:
                rx.kill()
                rx.wait()
        assert sess.ok, sess.completion_text
        assert rx.returncode == 0, err[-3000:]
        assert "SPANDSP TX" in err
        pages = sorted(tmp_path.glob("in.*"))
        assert len(pages) == 1
        same, compared = matching_rows(tiff_bitmap(page_tiff), efax_page_bitmap(pages[0], tmp_path),
                                       skip_top=0)
        assert compared > 1000 and same == compared


def test_efax_reports_failure_when_line_drops_mid_page(page_tiff: Path) -> None:
    with build_exchange(speed=SPEED) as ex:
        line = ex.add_line("+15550100", "line1")
        ex.add_remote("+15550113", "drop_mid_page")
        p = efax_send(line, "15550113", page_tiff)
        assert p.returncode != 0
        assert "NO CARRIER" in p.stderr
        call = ex.calls[-1]
        assert call.reason == "dropped"
        page = [c for c in call.carriers if c.mod == 146]
        assert page and 3000 <= page[0].octets < 3300  # cut part-way through the page
        # the modem is usable again afterwards
        p2 = efax_send(line, "15550111", page_tiff)  # nobody there: unknown number
        assert p2.returncode != 0 and "NO CARRIER" in p2.stderr

