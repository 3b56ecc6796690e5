"""bench/g711.py stays runnable: its smallest mode (``--quick``: one real-time call per
G.711 row at 0 % loss on the short form page, T.38 in virtual time), and its output
lines parse.  The concurrency ramp is left out here (another ~25 s call); the same
mode with it is ``python bench/g711.py --quick``.  It runs with ``-m long_call`` (the
25-minute budget of the default run)."""

from __future__ import annotations

import re

import pytest

from tests.modem.sim.conftest import needs_gs, needs_spandsp

pytest.importorskip("reportlab")

ROW = re.compile(r"^  (G\.711|T\.38 r=2) (\S+->\S+)(?: \(ref\))?\s+(\d+)/(\d+)\s+(\d+\.\d)$")
VERDICT = re.compile(r"^  verdict .*\b(MET|NOT MET)\b")


@needs_spandsp
@needs_gs
@pytest.mark.slow
@pytest.mark.long_call  # ~57 s of real-time calls; the G.711 paths it drives run by default in tests/sip
@pytest.mark.timeout(120)
def test_quick_run_prints_every_row_and_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from modem.softmodem import t31_available

    if not t31_available():
        pytest.skip("libspandsp2 has no T.31 modem")
    from bench.g711 import main

    assert main(["--quick", "--ramp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("== 1. Loss table") for line in lines), lines
    rows = {(m[1], m[2]): (int(m[3]), int(m[4])) for line in lines if (m := ROW.match(line))}
    assert set(rows) == {(t, r) for t in ("G.711", "T.38 r=2")
                         for r in ("umfax->spandsp", "spandsp->umfax", "spandsp->spandsp")}, lines
    assert all(total == 1 and 0 <= done <= 1 for done, total in rows.values()), rows
    assert sum(1 for line in lines if VERDICT.match(line)) == 8, lines
    assert any(line.startswith("  not covered: ") for line in lines)
    # (the figures themselves are the bench's business, not a test's)
