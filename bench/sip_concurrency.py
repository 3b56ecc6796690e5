"""The SIP bench's concurrency run: N simultaneous T.38 calls through one process, in real
time over UDP on 127.0.0.1.

Our side (this process): N calls, each a :class:`~modem.t38.terminal.T38Terminal` running
a :class:`~modem.t30.T30Sender` with the bench page, each pumped by a thread of its own
over its own UDP socket -- the shape of the server (one thread per channel running
``modem.siptrunk.media.run_t38``, UDPTL redundancy :data:`REDUNDANCY`).  The far ends
(spandsp terminals) run in a child process (:mod:`bench.sip_farend`),
so only umfax's CPU is measured: ``resource.getrusage(RUSAGE_SELF)`` from the start to the
last call's end, every thread of this process included (the waiting main thread too).
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import resource
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sip_page import text_page
from modem.api import HangupCause, SendOptions
from modem.siptrunk.media import T38Settings, run_t38
from modem.t30 import T30Sender
from modem.t38.terminal import T38Terminal
from tests.servers.ports import HOST

REDUNDANCY = 3  # the trunk's default (TrunkSettings.t38_redundancy)
TICK = 0.02
MEDIA_TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CallOutcome:
    cause: str
    seconds: float
    cpu_s: float  # this call's thread CPU time
    datagrams_out: int = 0
    datagrams_in: int = 0
    lost_ifps: int = 0
    pump: str = ""


def pump(sock: socket.socket, far: tuple[str, int], terminal: T38Terminal) -> tuple[int, int, int]:
    """One call's media, pumped as the server pumps it (``run_t38``): datagrams out and in,
    IFPs lost."""
    o = run_t38(sock, far, terminal, T38Settings(redundancy=REDUNDANCY), stopped=lambda: False)
    return o.datagrams_out, o.datagrams_in, o.lost_ifps


@dataclass
class ConcurrencyRun:
    calls: list[CallOutcome]
    far: list[dict[str, object]]
    wall_s: float
    cpu_s: float
    far_cpu_s: float
    far_late_ticks: int
    pump: str
    profile: pstats.Stats | None = None

    @property
    def completed(self) -> int:
        return sum(1 for c, f in zip(self.calls, self.far, strict=True)
                   if c.cause == str(HangupCause.OK) and f.get("pages") == 1)


def run_concurrency(n: int, *, profile: bool = False) -> ConcurrencyRun:
    """``n`` calls at once; ``profile``: cProfile every call's thread (slower; the merged
    statistics are in :attr:`ConcurrencyRun.profile`)."""
    page = text_page()
    pump_name = "modem.siptrunk.media.run_t38"
    socks = []
    for _ in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks.append(sock)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.sip_farend", ",".join(str(s.getsockname()[1]) for s in socks)],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        far_ports = json.loads(child.stdout.readline())["ports"]
        outcomes: list[CallOutcome | None] = [None] * n
        profiles: list[cProfile.Profile] = []

        def call(k: int) -> None:
            started = time.monotonic()
            cpu0 = time.thread_time()
            term = T38Terminal(T30Sender([page], SendOptions(local_id="+1 555 0100", ecm=True)),
                               now=started, calling=True)
            prof = cProfile.Profile() if profile else None
            try:
                if prof is not None:
                    prof.enable()
                out, got, lost = pump(socks[k], (HOST, far_ports[k]), term)
                if prof is not None:
                    prof.disable()
                    profiles.append(prof)
                cause = str(term.result.cause) if term.result is not None else "no result"
            except Exception as exc:  # a bench: report, do not hide
                out = got = lost = 0
                cause = f"crashed: {exc!r}"
            outcomes[k] = CallOutcome(cause, time.monotonic() - started, time.thread_time() - cpu0,
                                      out, got, lost, pump_name)

        threads = [threading.Thread(target=call, args=(k,), name=f"call-{k}") for k in range(n)]
        child.stdin.write("go\n")
        child.stdin.flush()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        far = json.loads(child.stdout.readline())
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for s in socks:
            s.close()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    stats = None
    if profiles:
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            stats.add(prof)
    return ConcurrencyRun([o for o in outcomes if o is not None], far["calls"], wall, cpu,
                          far["cpu_s"], far["late_ticks"], pump_name, stats)
