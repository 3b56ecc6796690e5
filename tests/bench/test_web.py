"""bench/web.py stays runnable: a tiny store (a few hundred faxes, a few requests), both
backends, and its output lines parse."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

LABEL = r"console [a-z ]+?|live status: store -> EventSource"
_MS = r"\s+(\d+\.\d)"
ROW = re.compile(rf"^\s+(?P<label>{LABEL})(?P<p50>{_MS})(?P<p95>{_MS})(?P<max>{_MS})\s+(?P<n>\d+)")


def test_tiny_run_prints_every_row_and_a_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.web import main

    assert main(["--faxes", "300", "--requests", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for backend in ("sqlite", "postgresql"):
        assert any(line.startswith(f"{backend}: 300 faxes seeded") for line in lines), lines
    rows = [m for m in map(ROW.match, lines) if m]
    labels = [m["label"] for m in rows]
    expected = [
        "console inbox",
        "console search",
        "console search part",
        "console thumbnail",
        "live status: store -> EventSource",
    ]
    assert labels == expected * 2, lines
    for m in rows:
        assert float(m["p50"]) <= float(m["p95"]) <= float(m["max"]), m.group(0)
        assert int(m["n"]) == 8, m.group(0)
    assert len([line for line in lines if re.match(r"\s+verdict: (MET|NOT MET) \(", line)]) == 2
