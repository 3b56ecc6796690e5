"""bench/voice.py stays runnable: two real voice calls through kamailio into ``umfax
serve`` and a Dovecot mailbox (~20 s), and its output lines parse."""

from __future__ import annotations

import re

import pytest

from tests.servers.fixtures import require_dovecot
from tests.servers.sip_fixtures import require_kamailio, require_sipp, require_speech_tools

# ~20 s of calls; tests/sip/test_voicemail.py drives the same path (baresip, umfax serve,
# Dovecot) in the default run, so the bench's smoke run is -m long_call (the 25-minute budget).
pytestmark = [pytest.mark.sip_peers, pytest.mark.slow, pytest.mark.long_call, pytest.mark.timeout(120)]

_S = r"\s+(\d+\.\d{3})"
ROW = re.compile(rf"^\s*(?P<label>\S.*?)(?P<p50>{_S})(?P<p95>{_S})(?P<max>{_S})\s+(?P<n>\d+)$")


def test_two_calls_print_the_latency_rows_and_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    require_dovecot()
    require_kamailio()
    require_sipp()
    require_speech_tools()
    from bench.voice import main

    assert main(["--calls", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {m["label"].strip(): m for m in map(ROW.match, lines) if m}
    delivered = rows["caller's BYE -> message in ann's INBOX (umfax)"]
    reference = rows["reference: bench APPEND -> seen in the same INBOX"]
    assert delivered["n"] == "2" and reference["n"] == "2", lines
    assert float(delivered["p50"]) <= float(delivered["p95"]) <= float(delivered["max"]), lines
    assert "of which: BYE -> call ended in umfax's store" in rows, lines
    assert "2/2 voice messages ended by the caller's hang-up" in "\n".join(lines)
    (verdict,) = [line for line in lines if line.startswith("verdict: ")]
    assert re.search(r"p95 <= 2 s: (MET|NOT MET) \(\d+\.\d{3} s, 2/2 calls delivered\)", verdict), verdict
    assert lines[-1].startswith("Not covered: ")
    # (the figures themselves are the bench's business, not a test's)
