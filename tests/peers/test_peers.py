"""Smoke tests: the third-party peers themselves work on this machine.

If these fail, tests of umfax against the peers cannot be trusted either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.peers import fixtures
from tests.peers.faximage import compare_pages, load_fax_image, load_fax_pages, make_test_page
from tests.peers.hylafax import HylaFax, efax_to_hylafax
from tests.peers.iaxmodem import IaxModemPair
from tests.peers.modem_io import ModemPort

# Fixtures by name (module attributes; plain assignment keeps ruff's F811 quiet).
# Not `pytest_plugins` here: a test module registering a plugin that another module
# already imported makes pytest warn (PytestAssertRewriteWarning).
iaxmodem_pair = fixtures.iaxmodem_pair
peers_workdir = fixtures.peers_workdir
hylafax_receiver = fixtures.hylafax_receiver

pytestmark = pytest.mark.iaxmodem


def test_pair_answers_at_and_is_class1_only(iaxmodem_pair: IaxModemPair) -> None:
    for modem in iaxmodem_pair.modems:
        with ModemPort(modem.device) as port:
            text, final = port.command("AT+FCLASS=?")
        assert final == "OK", (modem.label, text)
        assert "0,1,1.0" in text, (modem.label, text)


def test_dial_rings_far_end_with_caller_id(iaxmodem_pair: IaxModemPair) -> None:
    a, b = iaxmodem_pair.a, iaxmodem_pair.b
    with ModemPort(a.device) as pa, ModemPort(b.device) as pb:
        _, final = pb.command("AT+VCID=1")  # caller ID is only reported after +VCID=1
        assert final == "OK", pb.transcript
        try:
            pa.command("ATD5551002", timeout=0.5)  # no final result while it rings
            text, got = pb.read_until(("RING",), timeout=10.0)
        finally:
            pa.command("ATH0", timeout=3.0)
    assert got == "RING", f"B never rang; B said {pb.transcript!r}, A said {pa.transcript!r}"
    assert f"NMBR={a.cid_number}" in text, text
    assert f"NAME={a.cid_name}" in text, text


def test_answering_modem_rejects_calls_briefly_after_atz(iaxmodem_pair: IaxModemPair) -> None:
    """The fact efax_send's redial relies on: after ATZ the far modem refuses calls
    (caller sees NO DIALTONE) for a few seconds, then rings again."""
    a, b = iaxmodem_pair.a, iaxmodem_pair.b
    with ModemPort(a.device) as pa, ModemPort(b.device) as pb:
        assert pb.command("ATZ")[1] == "OK", pb.transcript
        _, first = pa.command("ATD5551002", timeout=3.0)
        assert first == "NO DIALTONE", pa.transcript
        rejected, rang = 1, False
        deadline = time.monotonic() + 30.0  # ~5 s idle; iaxmodem's clock lags under load
        try:
            while not rang and time.monotonic() < deadline:
                _, result = pa.command("ATD5551002", timeout=1.0)  # None while ringing
                if result == "NO DIALTONE":
                    rejected += 1
                    time.sleep(0.5)
                    continue
                rang = pb.read_until(("RING",), timeout=3.0)[1] == "RING"
        finally:
            pa.command("ATH0")
    print(f"calls rejected after ATZ: {rejected}")
    assert rang, f"B never rang again within 30 s of ATZ; A said {pa.transcript!r}"


@pytest.mark.long_call  # the peers between themselves; umfax against each runs by default
def test_efax_to_hylafax_one_page(
    iaxmodem_pair: IaxModemPair,
    hylafax_receiver: HylaFax,
    peers_workdir: Path,
    record_property: Callable[[str, object], None],
) -> None:
    """efax on A sends one page to HylaFAX answering on B; pixels and caller ID arrive."""
    page = make_test_page(peers_workdir / "page1.tif", label="to hylafax")
    t0 = time.monotonic()
    call = efax_to_hylafax(iaxmodem_pair, hylafax_receiver, page)
    wall = time.monotonic() - t0
    receipt = call.receipt
    record_property("efax_to_hylafax_wall_seconds", round(wall, 1))
    record_property("efax_to_hylafax_attempts", call.attempts)
    print(
        f"efax->HylaFAX 1 page: {wall:.1f} s wall, {call.attempts} attempt(s), "
        f"{call.send.attempts} dial(s) in the last"
    )

    assert receipt.error == "", hylafax_receiver.describe()
    assert receipt.cid_number == iaxmodem_pair.a.cid_number
    assert receipt.cid_name == iaxmodem_pair.a.cid_name
    (received,) = load_fax_pages(receipt.path)
    cmp = compare_pages(load_fax_image(page), received)
    print(cmp)
    assert cmp.identical, str(cmp)
    assert cmp.leading_rows <= 32, str(cmp)
