"""bench/lines.py's figures: where each call's time goes beyond T.30's minimum, line
utilisation, the comparison with spandsp-to-spandsp calls, and the printed report."""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.lines_mix import JobResult
from bench.lines_network import CallRecord, CallTimes
from modem.hdlc import FCF_NAMES
from modem.sim.line import V21_PREAMBLE_S, CarrierRecord, training_time
from umfax.lifecycle import JobState

V21 = 3  # T.31 modulation code of V.21 channel 2 (the T.30 control channel)
TURNAROUND = 0.075  # T.30: 75 ms +- 20 ms of silence between carriers


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



@dataclass
class Reference:
    index: int
    call: CallRecord
    ok: bool
    ecm: bool



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

Row = Callable[..., None]


def call_block(row: Row, jobs: list[JobResult], refs: list[Reference],
               mine: list[Gaps], ours: list[CallRecord]) -> None:
    """The per-call rows of one kind of receiver: our calls beside spandsp's."""
    pages = {id(j.call): j.pages for j in jobs if j.call is not None}
    by_index = {j.index: j for j in jobs}
    ref_calls = [r.call for r in refs if r.call.ended is not None and r.ok]
    theirs = [gaps(c, c.caller) for c in ref_calls]
    mean = statistics.mean

    def avg(values: list[float], fmt: str = "{:.2f}") -> str:
        return fmt.format(mean(values)) if values else "-"

    row("calls compared", str(len(ours)), str(len(ref_calls)))
    row(
        "pages per call, mean",
        avg([pages[id(c)] for c in ours]),
        avg([pages[id(j.call)] for r in refs for j in [by_index[r.index]] if j.call is not None]),
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
    added = added_time(jobs, refs)
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


def report(
    args: argparse.Namespace, run: Run, jobs: list[JobResult], refs: list[Reference], wall: float
) -> None:
    util = utilisation(run)
    mean = statistics.mean

    def row(label: str, a: str, b: str = "", c: str = "") -> None:
        print(f"{label:46}{a:>10}{b:>10}{c:>10}")

    def sent_calls(subset: list[JobResult]) -> list[CallRecord]:
        return [j.call for j in subset if j.call is not None and j.state == JobState.SENT]

    ecm_jobs = [j for j in jobs if j.ecm_receiver]
    plain_jobs = [j for j in jobs if not j.ecm_receiver]
    ecm_refs = [r for r in refs if r.index in {j.index for j in ecm_jobs}]
    plain_refs = [r for r in refs if r.index in {j.index for j in plain_jobs}]
    ours = sent_calls(ecm_jobs)
    mine = [gaps(c, c.caller) for c in ours]
    print()
    print(
        f"{len(jobs)} jobs ({sum(j.pages for j in jobs)} pages) on {args.lines} simulated lines at speed "
        f"{args.speed:g}: {run.sent} sent, {run.failed} not; {util['calls']:.0f} calls; "
        f"{wall:.0f} s wall in all ({run.elapsed:.0f} s for the umfax run)"
    )
    if plain_jobs:
        print(f"receivers with ECM: {len(ecm_jobs)} jobs; without ECM: {len(plain_jobs)} jobs "
              f"({sum(1 for j in plain_jobs if j.state == JobState.SENT)} sent)")
    if run.no_receiver:
        print(f"WARNING: {run.no_receiver} dials found no free receiver")
    print()
    row("simulated seconds", "umfax", "spandsp")
    row("backlogged window (first to last dial)", f"{util['window']:.0f}")
    row("whole run (first dial to last clearing)", f"{util['makespan']:.0f}")
    call_block(row, ecm_jobs, ecm_refs, mine, ours)
    plain_ours = sent_calls(plain_jobs)
    if plain_jobs:
        print()
        print("receivers without ECM (the same rows):")
        call_block(row, plain_jobs, plain_refs, [gaps(c, c.caller) for c in plain_ours], plain_ours)
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
    added = added_time(ecm_jobs, ecm_refs)
    n = len(added.added)
    worst = mean([g.added for g in mine]) if mine else float("inf")
    verdict = "met" if util["util_window"] >= 0.97 else "NOT met"
    print(f"target utilisation >= 97 %: {verdict} ({100 * util['util_window']:.1f} %)")
    verdict = "met" if worst <= 1.0 else "NOT met"
    print(f"target added time <= 1 s per call: {verdict} ({worst:.2f} s beyond T.30's minimum", end="")
    print(f"; {mean(added.added):+.2f} s against spandsp)" if n else ")")
    if plain_jobs:
        plain_mine = [gaps(c, c.caller) for c in plain_ours]
        worst = mean([g.added for g in plain_mine]) if plain_mine else float("inf")
        sent = sum(1 for j in plain_jobs if j.state == JobState.SENT)
        verdict = "met" if worst <= 1.0 and sent == len(plain_jobs) else "NOT met"
        print(f"receivers without ECM, every job sent and added time <= 1 s per call: {verdict} "
              f"({sent}/{len(plain_jobs)} sent, {worst:.2f} s beyond T.30's minimum)")
