"""SIP/T.38 bench (issue 16): UDPTL loss matrix beside spandsp, concurrency, added time.

    python bench/sip.py                      # everything, defaults (~5 min here: 200 s matrix)
    python bench/sip.py --calls 5 --concurrency 10    # a quick run
    python bench/sip.py --skip-loss --concurrency 60 --profile

1. **Loss matrix** (virtual time, :mod:`bench.sip_loss`): pages completed out of
   ``--calls`` one-page ECM calls at 0, 1, 5 and 10 % random datagram loss with 0-60 ms
   uniform random jitter per datagram (so datagrams reorder), for UDPTL redundancy 0-3.
   Rows: ``umfax->spandsp`` (our T38Terminal + T30Sender calling spandsp's t38_terminal)
   beside ``spandsp->spandsp`` (the reference, same harness, same seeds); and the other
   direction, ``spandsp->umfax`` (our T30Receiver answering).  Rows marked ``*`` are a
   diagnostic variant, not umfax as it is: our terminal's identical IFPs due at the same
   instant (indicator repeats) are sent as one UDPTL datagram repeated, as FreeSWITCH
   sends spandsp's repeats, instead of one datagram each (the footnote under the tables).
   A call is completed when the receiver has the page and the sender ended without error.
2. **Concurrency** (real time, UDP on 127.0.0.1, :mod:`bench.sip_concurrency`):
   ``--concurrency`` simultaneous calls, our side in this process (one thread per call,
   the server's shape), the spandsp far ends in a child process.
3. **Time umfax adds per call** (SIP setup and teardown, :mod:`bench.sip_added`): one real
   call through ``modem.siptrunk`` to SIPp + spandsp over loopback, timed on the wire.

Benchmarks are not tests: nothing is asserted; each target gets a verdict line.
The page: see :data:`bench.sip_page.DESCRIPTION`.

Not covered: loss and jitter are independent per datagram (real networks lose in bursts
and delay back-to-back datagrams alike, so this reorders same-instant packets far more
than they do); one page, ECM, V.17 14,400 only; no FEC; the real-time figures run on
loopback, concurrency in the sending direction only, without SIP signalling, all calls
starting together; added time from one call to a far end that answers at once and never
re-INVITEs, with no registrar or proxy in the path.
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
import collections
import logging
import os
import time

from bench.sip_loss import Cell, run_cell
from bench.sip_page import DESCRIPTION, text_page

LOSSES = (0.0, 0.01, 0.05, 0.10)
REDUNDANCIES = (0, 1, 2, 3)


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# --- 1. loss matrix ---------------------------------------------------------------------------


def loss_table(title: str, rows: list[str], cells: dict[tuple[str, float, int], Cell],
               calls: int, losses: tuple[float, ...], redundancies: tuple[int, ...]) -> None:
    width = max(len(r) for r in rows) + 2
    print(f"\n{title}")
    print(f"  {'':4}{'':{width}}" + "".join(f"{f'{loss:.0%} loss':>10}" for loss in losses))
    for r in redundancies:
        for i, row in enumerate(rows):
            label = f"r={r}" if i == 0 else ""
            counts = "".join(f"{f'{cells[row, loss, r].completed}/{calls}':>10}" for loss in losses)
            print(f"  {label:4}{row:{width}}{counts}")


def loss_verdicts(ours: str, ref: str, cells: dict[tuple[str, float, int], Cell], calls: int,
                  losses: tuple[float, ...], redundancies: tuple[int, ...]) -> None:
    at5 = [(r, cells[ours, 0.05, r].completed) for r in redundancies if r >= 2 and 0.05 in losses]
    if at5:
        ok = all(n == calls for _, n in at5)
        got = ", ".join(f"r={r}: {n}/{calls}" for r, n in at5)
        print(f"  verdict {ours}: 5 % loss with redundancy >= 2 completes {calls} of {calls}: "
              f"{_verdict(ok)} ({got})")
    below = [(loss, r, cells[ours, loss, r].completed, cells[ref, loss, r].completed)
             for r in redundancies for loss in losses
             if cells[ours, loss, r].completed < cells[ref, loss, r].completed]
    detail = "; ".join(f"{loss:.0%}/r={r}: {a} < {b}" for loss, r, a, b in below)
    print(f"  verdict {ours}: no cell below {ref}: {_verdict(not below)}"
          + (f" ({len(below)} cells below: {detail})" if below else ""))


def failure_summary(row: str, cells: dict[tuple[str, float, int], Cell]) -> None:
    causes: collections.Counter[str] = collections.Counter()
    for (name, _loss, _r), cell in cells.items():
        if name == row:
            causes.update(f"{c.sender} / {c.receiver}" for c in cell.results if not c.completed)
    if causes:
        top = "; ".join(f"{n}x {text}" for text, n in causes.most_common(3))
        print(f"  {row} failures (sender / receiver outcome): {top}")


def run_loss(args: argparse.Namespace) -> None:
    losses = tuple(args.loss)
    reds = tuple(args.redundancy)
    groups = [("umfax sends (our T38Terminal + T30Sender -> spandsp t38_terminal)",
               ["umfax->spandsp", "spandsp->spandsp"] + (["umfax*->spandsp"] if args.variants else []),
               "umfax->spandsp")]
    if not args.one_way:
        groups.append(("umfax receives (spandsp t38_terminal -> our T38Terminal + T30Receiver)",
                       ["spandsp->umfax", "spandsp->spandsp"]
                       + (["spandsp->umfax*"] if args.variants else []), "spandsp->umfax"))
    cells: dict[tuple[str, float, int], Cell] = {}
    t0 = time.monotonic()
    for _title, rows, _ours in groups:
        for row in rows:
            for loss in losses:
                for r in reds:
                    if (row, loss, r) not in cells:
                        cells[row, loss, r] = run_cell(row, loss, r, args.calls,
                                                       jitter_s=args.jitter_ms / 1000)
    print(f"\n== 1. Loss matrix: pages completed of {args.calls} one-page ECM calls, "
          f"random datagram loss, 0-{args.jitter_ms:g} ms uniform jitter, UDPTL redundancy r "
          f"(virtual time, {time.monotonic() - t0:.0f} s wall)")
    print(f"  page: {DESCRIPTION} ({len(text_page().data)} octets)")
    for title, rows, ours in groups:
        loss_table(title, rows, cells, args.calls, losses, reds)
        loss_verdicts(ours, "spandsp->spandsp", cells, args.calls, losses, reds)
        for row in rows:
            failure_summary(row, cells)
        if args.variants:
            star = ours.replace("umfax", "umfax*")
            loss_verdicts(star, "spandsp->spandsp", cells, args.calls, losses, reds)
    if args.variants:
        print("  * diagnostic variant, not umfax as it is: identical IFPs due at the same instant "
              "(indicator repeats) sent as one datagram each (one sequence number per copy), as "
              "umfax did before, instead of one datagram repeated (FreeSWITCH's way, and umfax's now)")


# --- 2. concurrency ---------------------------------------------------------------------------


def run_concurrency_part(args: argparse.Namespace) -> None:
    from bench.sip_concurrency import REDUNDANCY, run_concurrency

    n = args.concurrency
    run = run_concurrency(n, profile=args.profile)
    print(f"\n== 2. Concurrency: {n} simultaneous one-page ECM T.38 calls (umfax sends), real time, "
          f"UDP on 127.0.0.1, UDPTL redundancy {REDUNDANCY} (ours), 2 (far ends); "
          f"our side: one thread per call ({run.pump}); "
          f"far ends: spandsp in a child process")
    for k, (c, f) in enumerate(zip(run.calls, run.far, strict=True)):
        print(f"  call {k + 1:3}: umfax {c.cause:<16} far end {f['text']!s:<24} pages {f['pages']}  "
              f"{c.seconds:5.1f} s  cpu {c.cpu_s * 1000:4.0f} ms  dgrams out/in {c.datagrams_out}/"
              f"{c.datagrams_in}  lost {c.lost_ifps}")
    share = run.cpu_s / run.wall_s
    print(f"  completed {run.completed}/{n}; wall {run.wall_s:.1f} s; our process CPU {run.cpu_s:.2f} s "
          f"= {run.cpu_s / n * 1000:.0f} ms per call = {share:.1%} of one core over the wall time "
          f"(far ends' process: {run.far_cpu_s:.1f} s CPU, {run.far_late_ticks} late ticks; "
          f"load average now {os.getloadavg()[0]:.1f})")
    print(f"  verdict: >= 60 concurrent channels, every call completing, under one core: "
          f"{_verdict(n >= 60 and run.completed == n and share < 1.0)} "
          f"({n} channels, {run.completed}/{n} completed, {share:.1%} of a core)")
    if run.profile is not None:
        print("  profile of our side (all call threads, by own time):")
        run.profile.sort_stats("tottime").print_stats(20)


# --- 3. added time ----------------------------------------------------------------------------


def run_added_time(args: argparse.Namespace) -> None:
    import shutil

    from bench.sip_added import MEDIA_TIMEOUT, measure_added_time
    from modem.siptrunk import TrunkSettings

    wait = TrunkSettings(name="x", listen=("127.0.0.1", 0)).t38_reinvite_after
    print(f"\n== 3. Time umfax adds per call (real call over loopback: SipChannel.send -> SIPp "
          f"uas_t38.xml + spandsp T38Fax, captured by dumpcap, timed by tshark; "
          f"t38_reinvite_after {wait:g} s (default), media_timeout {MEDIA_TIMEOUT:g} s)")
    missing = [b for b in ("sipp", "dumpcap", "tshark") if shutil.which(b) is None]
    if missing:
        print(f"  not measured: {', '.join(missing)} missing\n  verdict: added time <= 0.5 s per call: "
              "NOT MEASURED")
        return
    r = measure_added_time(reinvite_wait=wait)
    if not r.ok:
        print(f"  the call failed ({r.detail})\n  verdict: added time <= 0.5 s per call: NOT MEASURED")
        return
    for name, seconds in r.steps.items():
        who = ("far end" if "far end" in name
               else "umfax (configured wait)" if name.startswith("ACK") else "umfax")
        print(f"  {name:<34}{seconds * 1000:9.1f} ms  {who}")
    own = r.setup_ours + r.teardown_ours
    print(f"  umfax's own processing: setup {r.setup_ours * 1000:.1f} ms + teardown "
          f"{r.teardown_ours * 1000:.1f} ms = {own * 1000:.1f} ms per call ({r.detail})")
    print(f"  verdict: time umfax adds per call (its own processing) <= 0.5 s: {_verdict(own <= 0.5)} "
          f"({own * 1000:.1f} ms)")
    print(f"  verdict: ... counting the Annex D wait for a far end that never re-INVITEs "
          f"(t38_reinvite_after {wait:g} s) <= 0.5 s: {_verdict(own + wait <= 0.5)} "
          f"({(own + r.reinvite_wait) * 1000:.0f} ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per loss-matrix cell (20)")
    parser.add_argument("--loss", type=float, nargs="+", default=list(LOSSES),
                        help="datagram loss rates (0 0.01 0.05 0.1)")
    parser.add_argument("--redundancy", type=int, nargs="+", default=list(REDUNDANCIES),
                        help="UDPTL redundancy depths (0 1 2 3)")
    parser.add_argument("--jitter-ms", type=float, default=60.0, help="uniform jitter 0..J ms (60)")
    parser.add_argument("--one-way", action="store_true", help="only umfax sending")
    parser.add_argument("--no-variants", dest="variants", action="store_false",
                        help="leave out the diagnostic * rows")
    parser.add_argument("--skip-loss", action="store_true")
    parser.add_argument("--concurrency", type=int, default=60,
                        help="simultaneous real-time calls (60; 0 skips)")
    parser.add_argument("--profile", action="store_true", help="cProfile our side of the concurrency run")
    parser.add_argument("--no-added", dest="added", action="store_false",
                        help="skip the real SIP call timing setup and teardown")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    text_page()  # render it once, outside every measurement
    if not args.skip_loss:
        run_loss(args)
    if args.concurrency > 0:
        run_concurrency_part(args)
    if args.added:
        run_added_time(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
