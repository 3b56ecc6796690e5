"""bench/sip.py stays runnable: its loss harness (virtual time, spandsp as the far end and
the reference) for a few calls, and the whole loss matrix at 1 call per cell."""

from __future__ import annotations

import pytest

from tests.modem.sim.conftest import needs_gs, needs_spandsp

pytest.importorskip("reportlab")


@needs_spandsp
@needs_gs
@pytest.mark.parametrize("row", ["umfax->spandsp", "spandsp->spandsp", "spandsp->umfax", "umfax*->spandsp"])
def test_loss_harness_completes_a_clean_call(row: str) -> None:
    from bench.sip_loss import run_cell

    cell = run_cell(row, 0.0, 3, 1, jitter_s=0.0)
    assert cell.completed == 1, cell.results
    result = cell.results[0]
    assert result.lost_ifps == 0 and 20 < result.seconds < 120, result


@needs_spandsp
@needs_gs
@pytest.mark.slow
def test_loss_matrix_one_call_per_cell(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.sip import main

    assert main(["--calls", "1", "--concurrency", "0", "--no-added"]) == 0
    out = capsys.readouterr().out
    assert "== 1. Loss matrix" in out and "r=3 umfax->spandsp" in out
    assert out.count("verdict") >= 4
    # (the figures themselves are the bench's business, not a test's)
