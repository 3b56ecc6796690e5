"""``umfax serve`` end to end on the simulated network (real ptys, Class 1 driver, spandsp far end)."""

from __future__ import annotations

import itertools
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import schemas
from tests.servers.umfax_site import UmfaxSite

pytestmark = pytest.mark.slow

RECEIVER, BUSY, LINE2 = "+1 212 555 0110", "+1 212 555 0111", "+1 212 555 0101"


def document(tmp_path: Path, pages: int = 1) -> Path:
    path = tmp_path / "letter.txt"
    path.write_text(
        "\f".join(
            f"Page {n}: the quick brown fox jumps over the lazy dog.\n" * 20 for n in range(1, pages + 1)
        )
    )
    return path


def test_send_wait_ends_sent_and_show_lists_the_call(site: UmfaxSite, tmp_path: Path) -> None:
    site.start()
    result = site.cli("send", RECEIVER, str(document(tmp_path)), "--no-cover", "--wait", timeout=180)
    assert "sent" in result.stdout
    (job,) = site.json("jobs")
    shown = site.json("show", str(job["id"]))
    schemas.validate("job", shown)
    assert shown["state"] == "sent" and shown["pages_done"] == shown["page_count"] == 1
    (attempt,) = shown["attempts"]
    assert attempt["result"] == "ok" and attempt["bit_rate"] >= 9600
    assert attempt["encoding"] in ("mh", "mr", "mmr") and attempt["remote_id"]
    assert attempt["pages_sent"] == 1 and attempt["connected_at"] and attempt["ended_at"]
    assert [e["kind"] for e in shown["events"]][:3] == ["accepted", "converting", "converted"]
    assert "sent" in [e["kind"] for e in shown["events"]]


def test_busy_number_is_retried_later(site: UmfaxSite, tmp_path: Path) -> None:
    site.start()
    job = site.json("send", BUSY, str(document(tmp_path)), "--no-cover")
    site.wait_for(lambda: site.json("show", str(job["id"]))["attempts"] != [], 60, "a call")
    site.wait_for(lambda: site.json("show", str(job["id"]))["last_cause"] == "busy", 60, "busy")
    shown = site.json("show", str(job["id"]))
    assert shown["state"] == "queued" and shown["dials"] == 1 and shown["tries"] == 0
    assert shown["attempts"][0]["result"] == "busy"
    assert shown["not_before"] > shown["attempts"][0]["ended_at"]


def test_fax_to_the_other_local_line_comes_back_in(site: UmfaxSite, tmp_path: Path) -> None:
    site.start()
    site.cli("send", LINE2, str(document(tmp_path, pages=2)), "--no-cover", "--wait", timeout=240)
    site.wait_for(lambda: any(f["state"] == "received" for f in site.json("inbox")), 60, "the inbound fax")
    (fax,) = site.json("inbox")
    schemas.validate("inbound", fax)
    assert fax["pages"] == 2 and fax["line"] == "sim2"
    out = tmp_path / "in.pdf"
    site.cli("inbox", str(fax["id"]), "-o", str(out))
    assert out.read_bytes().startswith(b"%PDF")


def test_kill_9_mid_send_then_restart_completes_without_double_dialling(
    site: UmfaxSite, tmp_path: Path
) -> None:
    first = site.start()
    job = site.json("send", RECEIVER, str(document(tmp_path, pages=4)), "--no-cover")
    job_id = str(job["id"])
    site.wait_for(lambda: site.json("show", job_id)["state"] == "sending", 60, "the call to start")
    site.stop(first, signal.SIGKILL)
    assert site.json("show", job_id)["state"] == "sending"  # held by a dead worker
    site.start()
    site.wait_for(lambda: site.json("show", job_id)["state"] == "sent", 240, "the job to be sent")
    shown = site.json("show", job_id)
    kinds = [e["kind"] for e in shown["events"]]
    assert "interrupted" in kinds and kinds[-1] == "sent"
    first_call, *later = shown["attempts"]
    assert first_call["result"] == "interrupted" and later[-1]["result"] == "ok"
    # never two calls at once: each attempt starts after the previous one ended
    spans = [
        (datetime.fromisoformat(a["started_at"]), datetime.fromisoformat(a["ended_at"]))
        for a in shown["attempts"]
    ]
    assert all(prev_end <= start for (_, prev_end), (start, _) in itertools.pairwise(spans))


def test_sigterm_stops_cleanly(site: UmfaxSite) -> None:
    proc = site.start()
    assert site.stop(proc) == 0
    assert all(line["state"] == "stopped" for line in site.json("lines"))


def test_jobs_to_one_number_go_out_in_one_call(site: UmfaxSite, tmp_path: Path) -> None:
    site.start()
    at = (datetime.now().astimezone() + timedelta(seconds=8)).isoformat()  # all converted by then
    ids = [
        site.json("send", LINE2, str(document(tmp_path)), "--no-cover", "--at", at)["id"] for _ in range(3)
    ]
    for job_id in ids:
        site.wait_for(
            lambda j=job_id: site.json("show", str(j))["state"] == "sent", 120, f"job {job_id} sent"
        )
    site.wait_for(lambda: any(f["state"] == "received" for f in site.json("inbox")), 60, "the inbound fax")
    (fax,) = site.json("inbox")  # one call carried all three jobs
    assert fax["pages"] == 3
    attempts = [site.json("show", str(j))["attempts"] for j in ids]
    assert all(len(a) == 1 and a[0]["result"] == "ok" for a in attempts)
