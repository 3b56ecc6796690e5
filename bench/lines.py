"""Line bench: 8 simulated lines draining a backlog of fax jobs, beside spandsp-to-spandsp.

    python bench/lines.py [--jobs 400] [--non-ecm-jobs 100] [--lines 8] [--speed 10] [--reference 40]

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
so each dial goes to a free receiver.  ``--non-ecm-jobs`` more (a quarter as many by
default; 0 gives the ECM-only mix of earlier runs, the same jobs) go to numbers
(+1 212 555 2000, ...) of a second hunt group, receivers *without* ECM, so pages go out
non-ECM (T.4 with RTC, MCF/RTN per page) as they do to many fax machines; the two kinds
are spread evenly through the queue and reported apart.  All jobs are converted
*before* the lines start, so the queue is backlogged from the first dial.

The pieces: ``bench/lines_mix.py`` (the job mix and its documents),
``bench/lines_network.py`` (the network process, hunt groups, the server's lines),
``bench/lines_figures.py`` (the measures and the report); this file runs them.

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
import logging
import tempfile
import threading
import time

from bench.lines_figures import Reference, Run, report
from bench.lines_mix import JobResult, job_mix, job_tiff, submit_jobs
from bench.lines_network import (
    IDENT,
    PLAIN_RECEIVER_BASE,
    RECEIVER_BASE,
    BenchServer,
    CallRecord,
    NetworkProcess,
    bench_config,
    number,
)
from modem.sim import Endpoint, build_exchange
from modem.sim.spandsp import SpandspFax
from umfax.lifecycle import JobState
from umfax.prepare import ConversionWorker
from umfax.store import open_store

# --- the umfax run -------------------------------------------------------------------------


def run_umfax(data_dir: Path, jobs: int, plain_jobs: int, lines: int, speed: float,
              seed: int) -> tuple[Run, list[JobResult]]:
    config = bench_config(data_dir, lines, speed)
    store = open_store(config)
    mix = job_mix(jobs, plain_jobs, seed)
    job_ids = submit_jobs(store, config, mix)
    started = time.perf_counter()
    converter = ConversionWorker(store, config, "bench/0/convert", threading.Event(), threading.Event())
    while converter.step():
        pass
    total_pages = sum(store.get_job(j).page_count for j in job_ids)
    print(f"converted {len(mix)} jobs, {total_pages} pages, in {time.perf_counter() - started:.0f} s",
          flush=True)
    network = NetworkProcess(lines, receivers=lines + 4, jobs=jobs, plain_jobs=plain_jobs, speed=speed)
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
    for index, (job_id, spec) in enumerate(zip(job_ids, mix, strict=True)):
        job = store.get_job(job_id)
        attempts = store.attempts(job_id)
        results.append(
            JobResult(
                index,
                job_id,
                job.page_count,
                str(job.state),
                bool(attempts and attempts[-1].ecm),
                by_number.get(spec.number),
                spec.ecm_receiver,
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


# --- the reference: spandsp to spandsp ----------------------------------------------------


def run_reference(
    tiffs: dict[int, tuple[Path, bool]], lines: int, speed: float, timeout: float
) -> tuple[list[Reference], float]:
    """Send each TIFF spandsp-to-spandsp, ``lines`` calls at a time (the same load as ours),
    with ECM or without as the job's receiver (``tiffs``: index -> (TIFF, ECM))."""
    results: list[Reference] = []
    lock = threading.Lock()
    todo = sorted(tiffs)
    started = time.perf_counter()
    plain = any(not ecm for _, ecm in tiffs.values())
    with build_exchange(speed=speed) as exchange:
        # one caller slot per line: a spandsp sender and receiver with ECM (and a pair
        # without, when the mix has such jobs)
        slots: list[dict[bool, tuple[Endpoint, Endpoint]]] = []
        for n in range(lines):
            slot = {True: (
                exchange.add_remote(number(700 + n), "sender", f"tx{n + 1}", ecm=True,
                                    ident="+1 212 555 0100"),
                exchange.add_remote(number(RECEIVER_BASE + n), "receiver", f"rx{n + 1}", ecm=True,
                                    ident=IDENT),
            )}
            if plain:
                slot[False] = (
                    exchange.add_remote(number(750 + n), "sender", f"ptx{n + 1}", ecm=False,
                                        ident="+1 212 555 0100"),
                    exchange.add_remote(number(PLAIN_RECEIVER_BASE + n), "receiver", f"prx{n + 1}",
                                        ecm=False, ident=IDENT),
                )
            slots.append(slot)

        def caller(slot: dict[bool, tuple[Endpoint, Endpoint]]) -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    index = todo.pop(0)
                tiff, ecm = tiffs[index]
                tx, rx = slot[ecm]
                assert isinstance(tx, SpandspFax)
                session = tx.send(rx.number, tiff)
                if not session.done.wait(timeout):
                    print(f"reference call for job {index + 1} timed out")
                    continue
                calls = [c for c in exchange.calls if c.caller is tx and c.state == "ended"]
                if calls:
                    with lock:
                        results.append(Reference(index, CallRecord.of(calls[-1]), session.ok, session.ecm))

        threads = [threading.Thread(target=caller, args=(slot,)) for slot in slots]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        exchange.wait_idle(30)
    return results, time.perf_counter() - started


# --- entry ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=400, help="jobs to receivers with ECM")
    parser.add_argument("--non-ecm-jobs", type=int, default=None,
                        help="jobs to receivers without ECM (default: a quarter of --jobs; 0: none)")
    parser.add_argument("--lines", type=int, default=8)
    parser.add_argument("--speed", type=float, default=10.0, help="simulated seconds per wall second")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--reference", type=int, default=40, help="jobs repeated spandsp-to-spandsp (0: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log warnings from the server")
    args = parser.parse_args()
    plain_jobs = args.jobs // 4 if args.non_ecm_jobs is None else args.non_ecm_jobs
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    wall_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="umfax-bench-lines-") as tmp:
        data_dir = Path(tmp)
        run, jobs = run_umfax(data_dir / "server", args.jobs, plain_jobs, args.lines, args.speed, args.seed)
        print(f"umfax run: {run.elapsed:.0f} s wall for {len(jobs)} jobs", flush=True)
        count = len(jobs) if args.reference <= 0 else min(args.reference, len(jobs))
        chosen = sorted({round(i * len(jobs) / count) for i in range(count)} & set(range(len(jobs))))
        store = open_store(bench_config(data_dir / "server", args.lines, args.speed))
        tiffs: dict[int, tuple[Path, bool]] = {}
        for index in chosen:
            path = data_dir / f"job{index + 1}.tif"
            path.write_bytes(job_tiff(store, jobs[index].job_id))
            tiffs[index] = (path, jobs[index].ecm_receiver)
        store.close()
        refs, ref_wall = run_reference(tiffs, args.lines, args.speed, timeout=600)
        print(f"reference run: {ref_wall:.0f} s wall for {len(refs)} calls", flush=True)
    report(args, run, jobs, refs, time.perf_counter() - wall_started)


if __name__ == "__main__":
    main()
