"""The G.711 bench's concurrency ramp: N simultaneous G.711 fax calls through one process,
real time, RTP on 127.0.0.1 (no relay, no impairment), N raised step by step until a
call fails or the ramp's last step.

Our side (this process): N :class:`~modem.softmodem.G711Line` calls, each in a thread of
its own (the server's shape: one thread per channel, plus the line's soft-modem pump
thread), alternately sending (even channels) and receiving (odd channels) the bench
pages.  The far ends (spandsp fax_state) run in a child process
(:mod:`bench.g711_farend`), so only umfax's CPU is measured:
``resource.getrusage(RUSAGE_SELF)`` from the start to the last call's end, every thread
of this process included.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.g711_peer import CODEC, RECEIVE, RECODER, bench_page, ours_text, pages_spec
from modem.api import IncomingCall, ReceivedPage, SendOptions
from modem.softmodem import AudioSettings, G711Line
from tests.servers.ports import HOST

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Channel:
    sending: bool
    cause: str = "no result"
    ok: bool = False
    seconds: float = 0.0
    pump_cpu_s: float = 0.0  # the soft-modem pump thread's CPU (spandsp T.31, RTP, the pty)
    lost: int = 0  # frames our jitter buffer played as gaps
    late: int = 0  # packets that came after their time
    overflows: int = 0  # packets our jitter buffer dropped for running too far ahead


@dataclass
class Step:
    n: int
    channels: list[Channel]
    far: list[dict[str, object]]
    wall_s: float
    cpu_s: float  # our process
    far_cpu_s: float
    far_late_ticks: int
    load: float = field(default_factory=lambda: os.getloadavg()[0])

    @property
    def completed(self) -> int:
        return sum(1 for c, f in zip(self.channels, self.far, strict=True) if c.ok and f.get("ok"))

    @property
    def call_seconds(self) -> float:
        return sum(c.seconds for c in self.channels)

    @property
    def cpu_per_channel(self) -> float:
        """Our process CPU seconds per channel per second of call (a share of one core)."""
        return self.cpu_s / self.call_seconds if self.call_seconds else 0.0


def _call(k: int, sock: socket.socket, far: tuple[str, int], channel: Channel) -> None:
    started = time.monotonic()
    line = G711Line(sock, far, AudioSettings(codec=CODEC), name=f"bench-{k}")
    try:
        if channel.sending:
            result = line.send("", [bench_page(k)], SendOptions(local_id="+1 555 0100", recode=RECODER),
                               lambda _p: None)
            channel.ok = result.ok and result.pages_done == 1
        else:
            pages: list[ReceivedPage] = []
            result = line.receive(IncomingCall(caller_number="15550100"),
                                  RECEIVE, pages.append, lambda _p: None)
            channel.ok = result.ok and sum(1 for p in pages if p.good) == 1
        channel.cause = ours_text(result, line.stats)
    except Exception as exc:  # a bench: report, do not hide
        channel.cause = f"crashed: {exc!r}"
    channel.seconds = time.monotonic() - started
    if line.stats is not None:
        channel.pump_cpu_s = line.stats.cpu_seconds
        jitter = line.stats.jitter
        channel.lost, channel.late, channel.overflows = jitter.lost, jitter.late, jitter.overflows


def run_step(n: int) -> Step:
    """``n`` calls at once (even channels: umfax sends; odd: umfax receives)."""
    for k in range(min(n, 2)):
        bench_page(k)  # rendered before any measurement
    socks = []
    for _ in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        socks.append(sock)
    channels = [Channel(sending=k % 2 == 0) for k in range(n)]
    roles = ",".join(f"{'s' if c.sending else 'r'}:{s.getsockname()[1]}"
                     for c, s in zip(channels, socks, strict=True))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, "-m", "bench.g711_farend", roles, pages_spec()], cwd=ROOT,
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        far_ports = json.loads(child.stdout.readline())["ports"]
        threads = [threading.Thread(target=_call, args=(k, socks[k], (HOST, far_ports[k]), channels[k]),
                                    name=f"g711-channel-{k}") for k in range(n)]
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        child.stdin.write("go\n")
        child.stdin.flush()
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
    return Step(n, channels, far["calls"], wall, cpu, far["cpu_s"], far["late_ticks"])


def stop_reason(step: Step, cores: int) -> str | None:
    """Why the ramp stops after ``step`` (None: go on)."""
    if step.completed < step.n:
        return f"{step.n - step.completed} of {step.n} calls did not complete"
    busy = (step.cpu_s + step.far_cpu_s) / step.wall_s
    if busy > 0.9 * cores:
        return f"CPU: both processes used {busy:.2f} of {cores} cores"
    return None
