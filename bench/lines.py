"""Line bench: 8 simulated lines draining a backlog of fax jobs, beside spandsp-to-spandsp.

    python bench/lines.py [--jobs 400] [--lines 8] [--speed 10] [--reference 40]

Run time: the default 400 jobs took 20 min wall here (2 cores shared with other work, load
average ~20: 2 min converting, 17 min of calls, 1 min of reference calls); ``--jobs 40``
takes about 1.5 min on a quiet machine.  A higher ``--speed`` is quicker but inflates the
driver's wall-clock latency in simulated time (added time 0.75 s per call at speed 10,
2.3 s at speed 20, same quiet machine).

What runs: a real ``umfax.service.Server`` (store on SQLite in a temporary directory, the
conversion worker, one ``LineWorker`` + ``Class1Driver`` per line) on the simulated
network of ``modem.sim``.  The network (exchange, simulated modems, spandsp receivers)
runs in a process of its own and the server opens its modems' ptys by path, as it would
open serial ports: on real lines the modems and the far ends are not threads of the
server's Python process.  (Run in one process, the simulation's threads, which poll
every few milliseconds by design, compete with the driver for the GIL, and that wait was
charged to the driver as "added" time, multiplied by ``--speed``.)

``--jobs`` plain-text jobs of 1-10 pages (fixed seed, pages separated by form feeds, no
cover page) each go to their own number (+1 212 555 0200, 0201, ...), so no two jobs
share a call.  Those numbers reach a hunt group of ECM-capable
spandsp receivers (a few more than lines): the bench wraps the exchange's ``place_call``
so each dial goes to a free receiver.  All jobs are converted *before* the lines start,
so the queue is backlogged from the first dial.

Figures, all in simulated seconds from the exchange's call records (``SimExchange.calls``;
the stall guard keeps them meaningful on a loaded machine):

* **Utilisation** = busy line-seconds / (lines x window).  A line is busy from its dial
  (``Call.started``, the ``ATD``) to the call's clearing (``Call.ended``).  The window
  runs from the first dial to the last dial: after the last dial the queue is empty and
  lines idle for want of work, not because of us.  The whole run (first dial to last
  clearing) is printed too.  The idle gap between one call's clearing and the same
  line's next dial is what utilisation loses: finishing the job in the store, claiming
  the next one, loading its pages, the modem init (``AT``, ``ATZ``, ``ATE0V1Q0``,
  ``AT+FCLASS=1``, ``AT+VCID=1``) before ``ATD``.  That gap is work on the wall clock,
  so in simulated time it is multiplied by ``--speed``; the table also shows it in wall
  milliseconds and the utilisation the lines would have on real (speed 1) lines with
  those same wall-clock gaps.

* **Added time per call**, two ways, side by side with spandsp as the caller:

  1. *Beyond T.30's minimum* (the figure the target is judged on).  From each call's
     carrier records: T.30 mandates the carriers themselves (V.21 frames after a 1 s
     preamble; TCF and page data after their modem's training) and 75 ms of silence
     between one carrier and the next (75 +- 20 ms; ringing and CED come before the
     first carrier).  What the caller adds = the silence beyond 75 ms before each
     carrier it sends (its response time), plus any carrier of its that lasts longer
     than training + octets x 8 / bit rate (data fed too slowly), plus the time from the
     last carrier to the clearing.  The same sums for the callee (spandsp) and the whole
     breakdown are printed, and the same analysis of the spandsp-to-spandsp calls.
     Protocol choices (ECM frame size, long vs short training, extra frames) are not
     caught by this method: the second one catches them.
  2. *Against spandsp-to-spandsp*: the very same pages (the job's stored MMR pages
     written to one TIFF) sent by a spandsp sender to a spandsp receiver of the same
     configuration on a simulated network at the same speed and with as many calls at
     once, no umfax involved, for ``--reference`` jobs spread over the run (all with
     ``--reference 0``).  Per job: (our call's dial-to-clearing time) - (the reference
     call's), less the time the difference in page octets takes at the bit rate
     (spandsp recodes the TIFF, so its octets differ slightly).  Both ring 4 s and
     must negotiate the same rate and ECM (others are counted apart).  Negative means
     our driver is quicker than spandsp's own T.30.

  Both are in simulated time, and include the simulated modem our driver talks to.
  The driver's own latency (a pty round trip per AT command, its Python) is wall-clock
  time, so it too is multiplied by ``--speed`` in simulated time: at speed 1 on real
  lines it would be smaller, not larger.

Benchmarks are not tests: nothing is asserted, the targets (utilisation >= 97 %, added
time <= 1 s per call) are printed as met or not.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# This folder holds benches (queue.py) whose names shadow the standard library.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import contextlib
import itertools
import logging
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from modem.hdlc import FCF_NAMES
from modem.sim.exchange import Call, Endpoint, SimExchange, SimModem
from modem.sim.line import V21_PREAMBLE_S, CarrierRecord, training_time
from modem.sim.spandsp import SpandspFax
from umfax.config import Config, parse_config
from umfax.conversion import pages_to_tiff, tiff_to_pages
from umfax.lifecycle import JobState
from umfax.lines.drivers import SimulatedPorts
from umfax.prepare import ConversionWorker
from umfax.service import Server
from umfax.store import DocumentIn, Store, open_store
from umfax.submit import FaxRequest, submit_fax

V21 = 3  # T.31 modulation code of V.21 channel 2 (the T.30 control channel)
TURNAROUND = 0.075  # T.30: 75 ms +- 20 ms of silence between carriers
LINE_BASE = 100  # our lines: +1 212 555 0100...
DEST_BASE = 200  # job numbers: +1 212 555 0200...
RECEIVER_BASE = 900  # the hunt group's own numbers: +1 212 555 0900...
IDENT = "+1 212 555 0900"
WORDS = tuple(
    [
        "invoice",
        "payment",
        "order",
        "delivery",
        "contract",
        "schedule",
        "account",
        "balance",
        "the",
        "of",
        "and",
        "to",
        "in",
        "for",
        "with",
        "on",
        "by",
        "at",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "this",
        "that",
        "please",
        "find",
        "attached",
        "regarding",
        "shipment",
        "quantity",
        "price",
        "total",
        "due",
        "date",
        "reference",
        "customer",
        "supplier",
        "terms",
    ]
)


def number(n: int) -> str:
    return f"+1212555{n:04d}"


# --- the documents ---------------------------------------------------------------------------


def document(rng: random.Random, pages: int) -> bytes:
    """Plain text, ``pages`` pages separated by form feeds, about 40 lines a page."""
    out = []
    for page in range(pages):
        lines = [f"Page {page + 1} of {pages}", ""]
        for _ in range(rng.randint(25, 45)):
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))))
        out.append("\n".join(lines))
    return "\f".join(out).encode()


# --- the simulated network ------------------------------------------------------------------


@dataclass
class CallTimes:
    """Wall-clock stamps of one call (for the real-time projection)."""

    placed: float
    cleared: float | None = None


@dataclass
class CallRecord:
    """What the figures need of one ``Call``, in plain data (it crosses processes)."""

    id: int
    caller: str  # the calling endpoint's name
    from_line: bool  # the caller is one of our lines (a SimModem)
    started: float
    ended: float | None
    state: str
    carriers: list[CarrierRecord]
    dialled: str = ""  # the digits the caller dialled (before the hunt group)

    @classmethod
    def of(cls, call: Call, dialled: str = "") -> CallRecord:
        return cls(
            call.id,
            call.caller.name,
            isinstance(call.caller, SimModem),
            call.started,
            call.ended,
            call.state,
            list(call.carriers),
            dialled,
        )


class HuntGroup:
    """Sends every dial of a job number to a free receiver of the pool (least used first).

    Wraps ``SimExchange.place_call`` under one lock, so two lines dialling at once never
    pick the same receiver (the exchange's own busy check is not atomic across threads).
    """

    def __init__(self, exchange: SimExchange, receivers: list[Endpoint], first: int, count: int) -> None:
        self.exchange = exchange
        self.receivers = receivers
        self.targets = {number(first + n)[1:] for n in range(count)}
        self.lock = threading.Lock()
        self.wall: dict[int, CallTimes] = {}
        self.dialled: dict[int, str] = {}  # call id -> the digits the line dialled
        self.no_receiver = 0
        self._original = exchange.place_call
        self._used: dict[str, int] = defaultdict(int)
        exchange.place_call = self.place_call  # type: ignore[method-assign]
        exchange.on_call_end.append(self._ended)

    def place_call(self, caller: Endpoint, dialed: str, data: bool = False) -> Call | str:
        digits = "".join(ch for ch in dialed if ch.isdigit())
        with self.lock:
            if any(t.endswith(digits) or digits.endswith(t) for t in self.targets if len(digits) >= 10):
                free = [r for r in self.receivers if r.call is None]
                if not free:
                    self.no_receiver += 1
                else:
                    pick = min(free, key=lambda r: self._used[r.name])
                    self._used[pick.name] += 1
                    dialed = pick.number
            result = self._original(caller, dialed, data)
            if isinstance(result, Call):
                self.wall[result.id] = CallTimes(time.monotonic())
                self.dialled[result.id] = digits
            return result

    def _ended(self, call: Call) -> None:
        times = self.wall.get(call.id)
        if times is not None:
            times.cleared = time.monotonic()


def run_network(conn: Connection, lines: int, receivers: int, jobs: int, speed: float) -> None:
    """The simulated network, in a process of its own (see the module doc).

    Sends ``{number: pty}`` for the lines, then on ``"finish"`` the call records and the
    hunt group's figures; closes the network on ``"close"``.
    """
    logging.basicConfig(level=logging.CRITICAL)
    with SimExchange(speed=speed) as exchange:
        devices = {
            number(LINE_BASE + n): exchange.add_line(number(LINE_BASE + n), f"line{n + 1}").device
            for n in range(lines)
        }
        pool = [
            exchange.add_remote(number(RECEIVER_BASE + n), "receiver", f"rx{n + 1}", ecm=True, ident=IDENT)
            for n in range(receivers)
        ]
        hunt = HuntGroup(exchange, pool, DEST_BASE, jobs)
        conn.send(devices)
        conn.recv()  # "finish"
        exchange.wait_idle(30)
        records = [CallRecord.of(c, hunt.dialled.get(c.id, "")) for c in list(exchange.calls)]
        conn.send((records, dict(hunt.wall), hunt.no_receiver))
        conn.recv()  # "close"


class NetworkProcess:
    """The server's view of the simulated network in the other process: a ``SimulatedPorts``."""

    def __init__(self, lines: int, receivers: int, jobs: int, speed: float) -> None:
        self.speed = speed
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=run_network, args=(child, lines, receivers, jobs, speed), name="sim-network", daemon=True
        )
        self._proc.start()
        self.devices: dict[str, str] = self._conn.recv()

    def device_for(self, port: str) -> str:
        return self.devices[port.removeprefix("sim:")]

    def finish(self) -> tuple[list[CallRecord], dict[int, CallTimes], int]:
        self._conn.send("finish")
        result: tuple[list[CallRecord], dict[int, CallTimes], int] = self._conn.recv()
        return result

    def close(self) -> None:
        if self._proc.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send("close")
            self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()


class BenchServer(Server):
    """The real server; its lines open the ptys of the network process."""

    def __init__(self, config: Config, store: Store, network: NetworkProcess) -> None:
        super().__init__(config, store)
        self.network = network

    def _sim_network(self) -> SimulatedPorts:
        return self.network


def bench_config(data_dir: Path, lines: int, speed: float) -> Config:
    return parse_config(
        {
            "server": {"data_dir": str(data_dir), "node_name": "bench", "log_level": "warning"},
            "fax": {"cover": False, "station_id": "+1 212 555 0100"},
            "queue": {"lease": "10m"},
            "simulator": {"speed": speed, "remotes": []},
            "api": {"enabled": False},
            "lines": [
                {
                    "name": f"line{n + 1}",
                    "port": f"sim:{number(LINE_BASE + n)}",
                    "number": number(LINE_BASE + n),
                    "receive": False,
                    "probe_interval": "1d",
                }
                for n in range(lines)
            ],
        }
    )


# --- measuring -----------------------------------------------------------------------------


def page_octets(call: CallRecord, sender: str) -> tuple[int, int]:
    """(octets of page carriers ``sender`` sent, their bit rate)."""
    pages = [c for c in call.carriers if c.sender == sender and c.mod != V21 and not c.tcf]
    return sum(c.octets for c in pages), (pages[0].rate if pages else 0)


@dataclass
class Gaps:
    """Where a call's time goes beyond T.30's minimum (simulated seconds)."""

    head: float = 0.0  # dial to the first carrier (ringing, CED, answer)
    ours: float = 0.0  # silence beyond 75 ms before carriers the caller sent
    theirs: float = 0.0  # the same before the callee's carriers
    stretch_ours: float = 0.0  # caller's carriers beyond training + their octets' bit time
    stretch_theirs: float = 0.0
    tail: float = 0.0  # last carrier's end to the clearing
    by_kind: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # caller's silence

    @property
    def added(self) -> float:
        """What the caller's side adds to T.30's mandatory exchanges."""
        return self.ours + self.stretch_ours + self.tail


def nominal(c: CarrierRecord) -> float:
    """A carrier's length by T.30: training (V.21: 1 s preamble) plus its bits."""
    if c.mod == V21:
        return V21_PREAMBLE_S + (c.octets + 3 * len(c.frames)) * 8 / c.rate  # + FCS and a flag
    return training_time(c.mod) + c.octets * 8 / c.rate


def kind(c: CarrierRecord) -> str:
    if c.mod != V21:
        return "TCF" if c.tcf else "page data"
    return "V.21 " + "+".join(FCF_NAMES.get(f, f"{f:02x}") for f in c.frames[:3])


def gaps(call: CallRecord, ours: str) -> Gaps:
    out = Gaps()
    carriers: list[CarrierRecord] = sorted(call.carriers, key=lambda c: c.start)
    if not carriers or call.ended is None:
        return out
    out.head = carriers[0].start - call.started
    end = carriers[0].start
    for c in carriers:
        extra = max(0.0, c.start - end - TURNAROUND) if c is not carriers[0] else 0.0
        stretch = max(0.0, (c.end - c.start) - nominal(c))
        if c.sender == ours:
            out.ours += extra
            out.stretch_ours += stretch
            out.by_kind[kind(c)] += extra
        else:
            out.theirs += extra
            out.stretch_theirs += stretch
        end = max(end, c.end)
    out.tail = max(0.0, call.ended - end)
    return out


@dataclass
class Run:
    calls: list[CallRecord]
    wall: dict[int, CallTimes]
    lines: int
    elapsed: float
    sent: int
    failed: int
    no_receiver: int


def overlap(a: float, b: float, lo: float, hi: float) -> float:
    return max(0.0, min(b, hi) - max(a, lo))


def utilisation(run: Run) -> dict[str, float]:
    calls = [c for c in run.calls if c.from_line and c.ended is not None]
    first = min(c.started for c in calls)
    last_dial = max(c.started for c in calls)
    last_end = max(c.ended for c in calls if c.ended is not None)
    busy_window = sum(overlap(c.started, c.ended or 0.0, first, last_dial) for c in calls)
    busy_all = sum((c.ended or 0.0) - c.started for c in calls)
    by_line: dict[str, list[CallRecord]] = defaultdict(list)
    for c in calls:
        by_line[c.caller].append(c)
    idle_sim: list[float] = []
    idle_wall: list[float] = []
    for line_calls in by_line.values():
        line_calls.sort(key=lambda c: c.started)
        for prev, nxt in itertools.pairwise(line_calls):
            if nxt.started > last_dial or prev.ended is None:
                continue
            idle_sim.append(nxt.started - prev.ended)
            w_prev, w_next = run.wall.get(prev.id), run.wall.get(nxt.id)
            if w_prev and w_next and w_prev.cleared is not None:
                idle_wall.append(w_next.placed - w_prev.cleared)
    window = last_dial - first
    busy_per_call = busy_all / len(calls)
    gap_wall = statistics.mean(idle_wall) if idle_wall else 0.0
    return {
        "calls": len(calls),
        "window": window,
        "makespan": last_end - first,
        "util_window": busy_window / (run.lines * window) if window > 0 else 0.0,
        "util_all": busy_all / (run.lines * (last_end - first)),
        "busy_per_call": busy_per_call,
        "gap_sim": statistics.mean(idle_sim) if idle_sim else 0.0,
        "gap_sim_p95": percentile(idle_sim, 95),
        "gap_wall_ms": 1000 * gap_wall,
        "gap_wall_p95_ms": 1000 * percentile(idle_wall, 95),
        "util_real_time": busy_per_call / (busy_per_call + gap_wall),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- the umfax run -------------------------------------------------------------------------


@dataclass
class JobResult:
    index: int  # 0-based job index (its number is DEST_BASE + index)
    job_id: int
    pages: int
    state: str
    ecm: bool
    call: CallRecord | None


def run_umfax(data_dir: Path, jobs: int, lines: int, speed: float, seed: int) -> tuple[Run, list[JobResult]]:
    config = bench_config(data_dir, lines, speed)
    store = open_store(config)
    rng = random.Random(seed)
    job_ids: list[int] = []
    for n in range(jobs):
        pages = rng.randint(1, 10)
        job = submit_fax(
            store,
            config,
            FaxRequest(
                number=number(DEST_BASE + n),
                documents=[DocumentIn(f"job{n + 1}.txt", document(rng, pages), "text/plain")],
                cover=False,
                source="bench",
            ),
        )
        job_ids.append(job.id)
    started = time.perf_counter()
    converter = ConversionWorker(store, config, "bench/0/convert", threading.Event(), threading.Event())
    while converter.step():
        pass
    total_pages = sum(store.get_job(j).page_count for j in job_ids)
    print(f"converted {jobs} jobs, {total_pages} pages, in {time.perf_counter() - started:.0f} s", flush=True)
    network = NetworkProcess(lines, receivers=lines + 4, jobs=jobs, speed=speed)
    server = BenchServer(config, store, network)
    started = time.perf_counter()
    last_report = started
    server.start()
    try:
        while True:
            counts = store.count_jobs()
            if not any(counts.get(s, 0) for s in JobState if not s.terminal):
                break
            if time.perf_counter() - last_report >= 60:
                last_report = time.perf_counter()
                print(f"  {last_report - started:5.0f} s wall: {counts}", flush=True)
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        calls, wall, no_receiver = network.finish()
    finally:
        server.shutdown(grace=30)
        network.close()
    store = open_store(config)
    by_number: dict[str, CallRecord] = {}
    for call in calls:
        if call.from_line and call.state == "ended":
            by_number["+" + call.dialled] = call
    results = []
    for index, job_id in enumerate(job_ids):
        job = store.get_job(job_id)
        attempts = store.attempts(job_id)
        results.append(
            JobResult(
                index,
                job_id,
                job.page_count,
                str(job.state),
                bool(attempts and attempts[-1].ecm),
                by_number.get(number(DEST_BASE + index)),
            )
        )
    counts = store.count_jobs()
    store.close()
    run = Run(
        calls=calls,
        wall=wall,
        lines=lines,
        elapsed=elapsed,
        sent=counts.get(JobState.SENT, 0),
        failed=sum(v for k, v in counts.items() if k != JobState.SENT),
        no_receiver=no_receiver,
    )
    return run, results


def job_tiff(store: Store, job_id: int) -> bytes:
    return pages_to_tiff([page for stored in store.pages(job_id) for page in tiff_to_pages(stored.data)])


# --- the reference: spandsp to spandsp ----------------------------------------------------


@dataclass
class Reference:
    index: int
    call: CallRecord
    ok: bool
    ecm: bool


def run_reference(
    tiffs: dict[int, Path], lines: int, speed: float, timeout: float
) -> tuple[list[Reference], float]:
    """Send each TIFF spandsp-to-spandsp, ``lines`` pairs at a time (the same load as ours)."""
    results: list[Reference] = []
    lock = threading.Lock()
    todo = sorted(tiffs)
    started = time.perf_counter()
    with SimExchange(speed=speed) as exchange:
        pairs = [
            (
                exchange.add_remote(
                    number(700 + n), "sender", f"tx{n + 1}", ecm=True, ident="+1 212 555 0100"
                ),
                exchange.add_remote(
                    number(RECEIVER_BASE + n), "receiver", f"rx{n + 1}", ecm=True, ident=IDENT
                ),
            )
            for n in range(lines)
        ]

        def pair(tx: Endpoint, rx: Endpoint) -> None:
            assert isinstance(tx, SpandspFax)
            while True:
                with lock:
                    if not todo:
                        return
                    index = todo.pop(0)
                session = tx.send(rx.number, tiffs[index])
                if not session.done.wait(timeout):
                    print(f"reference call for job {index + 1} timed out")
                    continue
                calls = [c for c in exchange.calls if c.caller is tx and c.state == "ended"]
                if calls:
                    with lock:
                        results.append(Reference(index, CallRecord.of(calls[-1]), session.ok, session.ecm))

        threads = [threading.Thread(target=pair, args=p) for p in pairs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        exchange.wait_idle(30)
    return results, time.perf_counter() - started


@dataclass
class Added:
    added: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    per_page: list[float] = field(default_factory=list)
    octet_fix: list[float] = field(default_factory=list)
    mismatched: int = 0
    failed: int = 0


def added_time(ours: list[JobResult], refs: list[Reference]) -> Added:
    out = Added()
    by_index = {r.index: r for r in ours}
    for ref in refs:
        mine = by_index[ref.index]
        call = mine.call
        if (
            call is None
            or call.ended is None
            or ref.call.ended is None
            or not ref.ok
            or mine.state != JobState.SENT
        ):
            out.failed += 1
            continue
        octets, rate = page_octets(call, call.caller)
        ref_octets, ref_rate = page_octets(ref.call, ref.call.caller)
        if rate != ref_rate or mine.ecm != ref.ecm or not rate:
            out.mismatched += 1
            continue
        raw = (call.ended - call.started) - (ref.call.ended - ref.call.started)
        fix = (octets - ref_octets) * 8 / rate
        out.raw.append(raw)
        out.octet_fix.append(fix)
        out.added.append(raw - fix)
        out.per_page.append((raw - fix) / mine.pages)
    return out


# --- report --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--lines", type=int, default=8)
    parser.add_argument("--speed", type=float, default=10.0, help="simulated seconds per wall second")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--reference", type=int, default=40, help="jobs repeated spandsp-to-spandsp (0: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings from the server")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    wall_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="umfax-bench-lines-") as tmp:
        data_dir = Path(tmp)
        run, jobs = run_umfax(data_dir / "server", args.jobs, args.lines, args.speed, args.seed)
        print(f"umfax run: {run.elapsed:.0f} s wall for {len(jobs)} jobs", flush=True)
        count = len(jobs) if args.reference <= 0 else min(args.reference, len(jobs))
        chosen = sorted({round(i * len(jobs) / count) for i in range(count)} & set(range(len(jobs))))
        store = open_store(bench_config(data_dir / "server", args.lines, args.speed))
        tiffs: dict[int, Path] = {}
        for index in chosen:
            path = data_dir / f"job{index + 1}.tif"
            path.write_bytes(job_tiff(store, jobs[index].job_id))
            tiffs[index] = path
        store.close()
        refs, ref_wall = run_reference(tiffs, args.lines, args.speed, timeout=600)
        print(f"reference run: {ref_wall:.0f} s wall for {len(refs)} calls", flush=True)
    report(args, run, jobs, refs, time.perf_counter() - wall_started)


def report(
    args: argparse.Namespace, run: Run, jobs: list[JobResult], refs: list[Reference], wall: float
) -> None:
    util = utilisation(run)
    added = added_time(jobs, refs)
    ours = [j.call for j in jobs if j.call is not None and j.state == JobState.SENT]
    pages = {id(j.call): j.pages for j in jobs if j.call is not None}
    mine = [gaps(c, c.caller) for c in ours]
    ref_calls = [r.call for r in refs if r.call.ended is not None and r.ok]
    theirs = [gaps(c, c.caller) for c in ref_calls]
    mean = statistics.mean

    def avg(values: list[float], fmt: str = "{:.2f}") -> str:
        return fmt.format(mean(values)) if values else "-"

    def row(label: str, a: str, b: str = "", c: str = "") -> None:
        print(f"{label:46}{a:>10}{b:>10}{c:>10}")

    print()
    print(
        f"{len(jobs)} jobs ({sum(j.pages for j in jobs)} pages) on {args.lines} simulated lines at speed "
        f"{args.speed:g}: {run.sent} sent, {run.failed} not; {util['calls']:.0f} calls; "
        f"{wall:.0f} s wall in all ({run.elapsed:.0f} s for the umfax run)"
    )
    if run.no_receiver:
        print(f"WARNING: {run.no_receiver} dials found no free receiver")
    print()
    row("simulated seconds", "umfax", "spandsp")
    row("backlogged window (first to last dial)", f"{util['window']:.0f}")
    row("whole run (first dial to last clearing)", f"{util['makespan']:.0f}")
    row("calls compared", str(len(ours)), str(len(ref_calls)))
    row(
        "pages per call, mean",
        avg([pages[id(c)] for c in ours]),
        avg([pages[id(j.call)] for r in refs for j in [jobs[r.index]] if j.call is not None]),
    )
    row(
        "call, dial to clearing, mean",
        avg([(c.ended or 0) - c.started for c in ours]),
        avg([(c.ended or 0) - c.started for c in ref_calls]),
    )
    row(
        "  dial to first carrier (ring 4 s, CED 3 s)",
        avg([g.head for g in mine]),
        avg([g.head for g in theirs]),
    )
    row("  caller: silence beyond 75 ms", avg([g.ours for g in mine]), avg([g.ours for g in theirs]))
    row(
        "  caller: carriers beyond nominal length",
        avg([g.stretch_ours for g in mine]),
        avg([g.stretch_ours for g in theirs]),
    )
    row("  callee: silence beyond 75 ms", avg([g.theirs for g in mine]), avg([g.theirs for g in theirs]))
    row(
        "  callee: carriers beyond nominal length",
        avg([g.stretch_theirs for g in mine]),
        avg([g.stretch_theirs for g in theirs]),
    )
    row("  last carrier to clearing", avg([g.tail for g in mine]), avg([g.tail for g in theirs]))
    row(
        "caller's added time per call (T.30 minimum)",
        avg([g.added for g in mine]),
        avg([g.added for g in theirs]),
        "<= 1 s",
    )
    row(
        "  95th percentile",
        f"{percentile([g.added for g in mine], 95):.2f}",
        f"{percentile([g.added for g in theirs], 95):.2f}",
    )
    row("  per page", avg([g.added / pages[id(c)] for g, c in zip(mine, ours, strict=True)]))
    print()
    kinds: dict[str, float] = defaultdict(float)
    for g in mine:
        for k, v in g.by_kind.items():
            kinds[k] += v
    print("our silence beyond 75 ms, by what we sent next (s per call):")
    for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])[:6]:
        row(f"  {k}", f"{v / max(1, len(mine)):.3f}")
    print()
    n = len(added.added)
    print(
        f"against spandsp-to-spandsp, same pages ({n} jobs; {added.mismatched} other rate/ECM, "
        f"{added.failed} failed):"
    )
    if n:
        row("  call time difference, mean", f"{mean(added.raw):.2f}")
        row("  of which page octets (s), mean", f"{mean(added.octet_fix):.2f}")
        row(
            "  added per call, mean / median / p95",
            f"{mean(added.added):.2f}",
            f"{statistics.median(added.added):.2f}",
            f"{percentile(added.added, 95):.2f}",
        )
        row("  added per page, mean", f"{mean(added.per_page):.2f}")
    print()
    row("line utilisation", "", "target")
    row("  backlogged window", f"{100 * util['util_window']:.1f}%", ">= 97%")
    row("  whole run (with the tail)", f"{100 * util['util_all']:.1f}%")
    row("  projected at speed 1 (same wall gaps)", f"{100 * util['util_real_time']:.1f}%")
    row(
        "idle gap between calls, simulated s (mean/p95)",
        f"{util['gap_sim']:.2f}",
        f"{util['gap_sim_p95']:.2f}",
    )
    row(
        "idle gap between calls, wall ms (mean/p95)",
        f"{util['gap_wall_ms']:.0f}",
        f"{util['gap_wall_p95_ms']:.0f}",
    )
    print()
    worst = mean([g.added for g in mine]) if mine else float("inf")
    verdict = "met" if util["util_window"] >= 0.97 else "NOT met"
    print(f"target utilisation >= 97 %: {verdict} ({100 * util['util_window']:.1f} %)")
    verdict = "met" if worst <= 1.0 else "NOT met"
    print(f"target added time <= 1 s per call: {verdict} ({worst:.2f} s beyond T.30's minimum", end="")
    print(f"; {mean(added.added):+.2f} s against spandsp)" if n else ")")


if __name__ == "__main__":
    main()
