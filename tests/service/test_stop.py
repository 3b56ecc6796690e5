"""How long ``umfax serve`` takes to stop, signalled the ways service managers and people
signal it: systemd's default stop (SIGTERM to every process of the unit), Ctrl-C in a
terminal (SIGINT to the foreground process group) and ``kill PID`` (the main process
alone).  The server had a conversion child that died of the group's SIGTERM and a 30 s
wait for it; the bounds here are generous (a loaded CI machine), the times are printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers.umfax_site import UmfaxSite

pytestmark = pytest.mark.slow

IDLE_STOP_BOUND = 10.0
"""Seconds an idle server may take to stop here (the target on an idle machine is 2 s)."""


def _spawn_own_group(site: UmfaxSite) -> subprocess.Popen[bytes]:
    """``umfax serve`` as the leader of its own process group and session, as a service
    manager or a terminal starts it; its lines up and idle."""
    log = open(site.root / f"serve-{len(site.servers)}.log", "wb")  # noqa: SIM115 - the process's
    proc = subprocess.Popen(
        [sys.executable, "-m", "umfax", "serve", "--config", str(site.config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=site.env,
        start_new_session=True,
    )
    site.servers.append(proc)
    site.wait_for(
        lambda: all(line["state"] == "idle" for line in site.json("lines")), 60, "lines to come up"
    )
    return proc


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child waits for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


@pytest.mark.parametrize(
    ("to_group", "sig"),
    [(True, signal.SIGTERM), (True, signal.SIGINT), (False, signal.SIGTERM), (False, signal.SIGINT)],
    ids=["group-SIGTERM", "group-SIGINT", "main-SIGTERM", "main-SIGINT"],
)
def test_an_idle_server_stops_promptly_however_signalled(
    site: UmfaxSite, to_group: bool, sig: signal.Signals
) -> None:
    proc = _spawn_own_group(site)
    deadline = time.monotonic() + 30
    while not _children(proc.pid) and time.monotonic() < deadline:  # the converter child is up
        time.sleep(0.1)
    children = _children(proc.pid)
    assert children, "the conversion child process was not started"
    started = time.monotonic()
    if to_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    code = proc.wait(timeout=90)
    took = time.monotonic() - started
    print(f"{'group' if to_group else 'main'} {sig.name}: stopped in {took:.2f} s")
    assert code == 0, site.logs()
    assert took < IDLE_STOP_BOUND, f"took {took:.1f} s to stop\n{site.logs()}"
    gone_by = time.monotonic() + 5  # the resource tracker ends once it reads its pipe's end
    while any(_running(pid) for pid in children) and time.monotonic() < gone_by:
        time.sleep(0.1)
    left = {pid: _cmdline(pid) for pid in children if _running(pid)}
    assert not left, f"children outlived the server: {left}"
    assert "umfax stopped" in site.logs()


def test_a_call_in_progress_finishes_then_the_server_stops(site: UmfaxSite, tmp_path: Path) -> None:
    site.config.write_text(site.config.read_text().replace("speed = 20", "speed = 2"))  # a long call
    proc = _spawn_own_group(site)
    letter = tmp_path / "letter.txt"
    letter.write_text("\f".join(f"Page {n} of a letter.\n" * 30 for n in range(1, 4)))
    job_id = site.json("send", "+1 212 555 0110", str(letter))["id"]
    site.wait_for(lambda: site.json("show", str(job_id))["state"] == "sending", 60, "the call to start")
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=120) == 0, site.logs()
    took = time.monotonic() - started
    shown = site.json("show", str(job_id))
    print(f"stopped {took:.2f} s after SIGTERM mid-call; job {shown['state']}")
    assert shown["state"] == "sent", site.logs()  # the call was finished, not cut
    assert "stopping: finishing calls in progress" in site.logs()
