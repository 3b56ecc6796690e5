"""G.711 fax bench (issue 17): calls completed under loss and jitter beside spandsp, and
the concurrent G.711 channels this machine holds.

    python bench/g711.py                       # everything (~30 min here: calls are real time)
    python bench/g711.py --quick               # a smoke run (~1 min)
    python bench/g711.py --calls 5 --loss 0 0.02 --ramp 16 32
    python bench/g711.py --skip-loss --ramp 16 32 48 64

1. **Loss table** (:mod:`bench.g711_loss`): one-page ECM calls completed out of
   ``--calls`` at each ``--loss`` rate (random, each datagram, both ways) with 0..
   ``--jitter-ms`` uniform random jitter (both ways, so packets reorder).  Rows, G.711
   PCMU in real time over loopback through an impairing relay: ``umfax->spandsp``
   (G711Line sending to spandsp's fax_state), ``spandsp->umfax`` (fax_state sending,
   G711Line receiving), ``spandsp->spandsp`` (the reference: fax_state to fax_state).
   Every spandsp end sits behind the same fixed 80 ms playout buffer as ours
   (:class:`bench.g711_peer.BufferedAudioFax`).  Then T.38, UDPTL redundancy 2, on the
   same loss and jitter (virtual time, bench/sip_loss.py's harness): umfax's T38Terminal
   against spandsp's t38_terminal both ways, and spandsp against itself.  Each umfax row
   gets a verdict per cell against the reference of its transport ("NOT MET" where umfax
   completed fewer calls).
2. **Concurrency ramp** (:mod:`bench.g711_concurrency`): ``--ramp`` steps of N
   simultaneous G.711 calls (umfax sends on half, receives on the other half), our side in
   this process, the spandsp far ends in a child process; the ramp stops at the first
   step where a call fails or the two processes fill the cores.  CPU per channel: this
   process's CPU time / channel / call-second.

Benchmarks are not tests: nothing is asserted; each target gets a verdict line.
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
import statistics

from bench import g711_peer
from bench.g711_loss import G711_ROWS, T38_REDUNDANCY, T38_ROWS, LossCell, run_loss_table

LOSSES = (0.0, 0.005, 0.01, 0.02)
RAMP = (8, 16, 24, 32, 40, 48, 64)
REFERENCE = "spandsp->spandsp"
TARGET_PER_CORE = 16

NOT_COVERED = (
    "loss and jitter are independent per packet (real networks lose in bursts); jitter is "
    "uniform 0..J with a fixed 80 ms playout buffer on every end (jitter beyond it is loss)",
    "PCMU only (PCMA is the same path with another table); no echo, level changes, clock "
    "drift or transcoding between the ends; loopback only, no SIP signalling (the call is up)",
    "one page per call, ECM on, V.17 14,400 negotiated; no non-ECM calls, no multi-page jobs, "
    "no V.34; two page kinds only",
    "the ramp: calls start together, on a clean network, CPU shared with whatever else runs "
    "on the machine (load average printed); the far ends' CPU is not umfax's and is reported apart",
    "T.38 rows are in virtual time (no real-time or CPU effects), G.711 rows in real time",
)


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def _pct(loss: float) -> str:
    return f"{loss * 100:g}%"


def _label(transport: str, row: str) -> str:
    name = "G.711" if transport == "g711" else f"T.38 r={T38_REDUNDANCY}"
    return f"{name} {row}" + (" (ref)" if row == REFERENCE else "")


def print_loss(cells: dict[tuple[str, str, float], LossCell], losses: tuple[float, ...], calls: int) -> None:
    rows = [("g711", r) for r in G711_ROWS] + [("t38", r) for r in T38_ROWS]
    width = max(len(_label(t, r)) for t, r in rows) + 2
    print(f"  {'':{width}}" + "".join(f"{_pct(loss) + ' loss':>11}" for loss in losses) + "   median s")
    for transport, row in rows:
        if (transport, row, losses[0]) not in cells:
            continue
        counts = "".join(f"{f'{cells[transport, row, loss].completed}/{calls}':>11}" for loss in losses)
        seconds = [s for loss in losses for s in cells[transport, row, loss].seconds]
        print(f"  {_label(transport, row):{width}}{counts}   {statistics.median(seconds):8.1f}")
    for transport, row in rows:
        if row == REFERENCE or (transport, row, losses[0]) not in cells:
            continue
        parts, below = [], 0
        for loss in losses:
            ours, ref = cells[transport, row, loss].completed, cells[transport, REFERENCE, loss].completed
            below += ours < ref
            parts.append(f"{_pct(loss)} {_verdict(ours >= ref)} ({ours} vs {ref})")
        print(f"  verdict {_label(transport, row)} per cell vs {REFERENCE}: " + ", ".join(parts))
        print(f"  verdict {_label(transport, row)}: no cell below {REFERENCE}: {_verdict(not below)}")
    for loss in losses:
        g = [cells["g711", r, loss].completed for r in G711_ROWS[:2] if ("g711", r, loss) in cells]
        t = [cells["t38", r, loss].completed for r in T38_ROWS[:2] if ("t38", r, loss) in cells]
        if g and t:
            print(f"  G.711 vs T.38 r={T38_REDUNDANCY} at {_pct(loss)} loss (umfax rows, both ways): "
                  f"{sum(g)}/{calls * len(g)} vs {sum(t)}/{calls * len(t)}")
    causes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for (transport, row, _loss), cell in cells.items():
        causes[_label(transport, row)].update(f"{s} / {r}" for ok, s, r in cell.outcomes if not ok)
    for label, counter in sorted(causes.items()):
        if counter:
            top = "; ".join(f"{n}x {text}" for text, n in counter.most_common(3))
            print(f"  {label} failures (sender / receiver end): {top}")


def run_loss(args: argparse.Namespace) -> None:
    losses = tuple(args.loss)
    run = run_loss_table(losses, args.calls, jitter_s=args.jitter_ms / 1000, concurrency=args.concurrency)
    print(f"\n== 1. Loss table: one-page ECM calls completed of {args.calls} per cell, random packet loss "
          f"both ways, 0-{args.jitter_ms:g} ms uniform jitter both ways")
    print(f"  G.711: PCMU, real time over 127.0.0.1 through an impairing relay, {args.concurrency} calls "
          f"at once, fixed 80 ms playout buffer on every end ({run.wall_s:.0f} s wall, this process "
          f"{run.cpu_s / run.wall_s:.0%} of one core for both ends and the relays; load average "
          f"{run.load_before:.1f} before, {run.load_after:.1f} after)")
    print(f"  T.38: UDPTL redundancy {T38_REDUNDANCY} both ways, virtual time (bench/sip_loss.py's "
          "harness, same loss and jitter; the text page only)")
    print(f"  pages (call n sends page n mod {len(g711_peer.PAGES)}): {g711_peer.describe_pages()}")
    print_loss(run.cells, losses, args.calls)


def run_ramp(args: argparse.Namespace) -> None:
    from bench.g711_concurrency import run_step, stop_reason

    cores = os.cpu_count() or 1
    print(f"\n== 2. Concurrency ramp: N simultaneous one-page G.711 calls (PCMU, 127.0.0.1, no impairment; "
          f"umfax sends on even channels, receives on odd), our side in this process (a thread per "
          f"call + its soft-modem pump thread), spandsp far ends in a child process; {cores} cores")
    held, reason = 0, f"the ramp's last step ({args.ramp[-1]}) passed"
    last = None
    for n in args.ramp:
        step = run_step(n)
        last = step
        pump = sum(c.pump_cpu_s for c in step.channels)
        lost = sum(c.lost for c in step.channels)
        print(f"  step {n:3}: completed {step.completed}/{n}; wall {step.wall_s:5.1f} s; median call "
              f"{statistics.median(c.seconds for c in step.channels):5.1f} s; our CPU {step.cpu_s:6.1f} s "
              f"(pump threads {pump:5.1f} s) = {step.cpu_per_channel:.2%} of a core per channel; "
              f"far ends CPU {step.far_cpu_s:6.1f} s, late ticks {step.far_late_ticks}; "
              f"our gaps {lost}; load {step.load:.1f}")
        for k, (c, f) in enumerate(zip(step.channels, step.far, strict=True)):
            if not (c.ok and f.get("ok")):
                print(f"    channel {k} ({'umfax sends' if c.sending else 'umfax receives'}): umfax "
                      f"{c.cause}; far end {f.get('text')}, pages {f.get('pages')}, "
                      f"{f.get('late')} of our packets late for its playout")
        why = stop_reason(step, cores)
        if step.completed == n:
            held = n
        if why is not None:
            reason = why
            break
    if last is None:
        return
    target = TARGET_PER_CORE * cores
    cpu = f"{last.cpu_per_channel:.2%}" if last.completed == last.n else "n/a"
    print(f"  held: {held} concurrent channels with every call completing ({held / cores:g} per core); "
          f"ramp stopped by: {reason}")
    print(f"  CPU per channel at the last step: {cpu} of a core (our process CPU / channel / call-second)")
    print(f"  verdict: >= {target} concurrent G.711 channels ({TARGET_PER_CORE} per core) every call "
          f"completing: {_verdict(held >= target)} ({held})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per loss-table cell (20)")
    parser.add_argument("--loss", type=float, nargs="+", default=list(LOSSES),
                        help="packet loss rates (0 0.005 0.01 0.02)")
    parser.add_argument("--jitter-ms", type=float, default=40.0, help="uniform jitter 0..J ms (40)")
    parser.add_argument("--concurrency", type=int, default=10,
                        help="G.711 loss-table calls run at once (10)")
    parser.add_argument("--ramp", type=int, nargs="*", default=list(RAMP),
                        help="concurrency ramp steps (8 16 24 32 40 48 64; none skips)")
    parser.add_argument("--skip-loss", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 call per cell at 0 %% loss, the short 'forms' page, ramp 2")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.loss, args.ramp = 1, [0.0], [2]
        g711_peer.PAGES = (("forms", 1, "form page (boxes and short text)"),)
    args.ramp = [n for n in args.ramp if n > 0]
    logging.basicConfig(level=logging.WARNING)
    for n in range(len(g711_peer.PAGES)):
        g711_peer.bench_page(n)  # rendered once, outside every measurement
    if not args.skip_loss:
        run_loss(args)
    if args.ramp:
        run_ramp(args)
    print("\n  not covered: " + "\n  not covered: ".join(NOT_COVERED))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
