"""The G.711 bench's loss table: one-page calls completed per cell (row, loss rate) at
0..jitter ms of uniform random jitter, for G.711 (real time, :mod:`bench.g711_peer`) and
for T.38 at UDPTL redundancy 2 on the same loss and jitter (virtual time, the SIP
bench's harness :mod:`bench.sip_loss`: umfax's T38Terminal against spandsp's
t38_terminal, and spandsp against itself).

G.711 calls are real time (most of a minute each), so the calls of every cell are
queued together and run ``concurrency`` at a time by a thread pool; each call has its own
relay (:class:`tests.servers.rtp_relay.ImpairedRelay`, seeded from row-independent
(loss, call number), so rows meet the same seeds).
"""

from __future__ import annotations

import concurrent.futures
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.g711_peer import G711Call, run_g711_call
from bench.sip_loss import run_cell

G711_ROWS = ("umfax->spandsp", "spandsp->umfax", "spandsp->spandsp")
T38_ROWS = ("umfax->spandsp", "spandsp->umfax", "spandsp->spandsp")
T38_REDUNDANCY = 2


@dataclass(frozen=True)
class LossCell:
    transport: str  # "g711" or "t38"
    row: str
    loss: float
    outcomes: tuple[tuple[bool, str, str], ...]  # (completed, sender's end, receiver's end)
    seconds: tuple[float, ...]  # call durations (wall for G.711, virtual for T.38)

    @property
    def completed(self) -> int:
        return sum(1 for ok, _, _ in self.outcomes if ok)


@dataclass(frozen=True)
class LossRun:
    cells: dict[tuple[str, str, float], LossCell]
    wall_s: float  # of the G.711 part
    cpu_s: float  # this process's CPU during the G.711 part (both ends and the relays)
    load_before: float
    load_after: float


def run_loss_table(losses: tuple[float, ...], calls: int, *, jitter_s: float, concurrency: int,
                   g711_rows: tuple[str, ...] = G711_ROWS, t38_rows: tuple[str, ...] = T38_ROWS,
                   on_call: Callable[[str, float, G711Call], None] | None = None) -> LossRun:
    """Every (row, loss) cell, ``calls`` calls each."""
    # interleaved (call number outermost): a change of machine load during the run falls
    # on every cell alike, not on the loss rates run last
    jobs = [(row, loss, n) for n in range(calls) for loss in losses for row in g711_rows]
    results: dict[tuple[str, float], list[tuple[int, G711Call]]] = {}
    load_before = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="g711-call") as pool:
        futures = {pool.submit(run_g711_call, row, n, loss=loss, jitter_s=jitter_s,
                               seed=f"{loss}/{n}"): (row, loss, n) for row, loss, n in jobs}
        for future in concurrent.futures.as_completed(futures):
            row, loss, n = futures[future]
            call = future.result()
            results.setdefault((row, loss), []).append((n, call))
            if on_call is not None:
                on_call(row, loss, call)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    cells: dict[tuple[str, str, float], LossCell] = {}
    for (row, loss), got in results.items():
        ordered = [c for _, c in sorted(got, key=lambda x: x[0])]
        cells["g711", row, loss] = LossCell("g711", row, loss,
                                            tuple((c.completed, c.sender, c.receiver) for c in ordered),
                                            tuple(c.seconds for c in ordered))
    for row in t38_rows:
        for loss in losses:
            cell = run_cell(row, loss, T38_REDUNDANCY, calls, jitter_s=jitter_s)
            outcomes = tuple((r.completed, r.sender, r.receiver) for r in cell.results)
            seconds = tuple(r.seconds for r in cell.results)
            cells["t38", row, loss] = LossCell("t38", row, loss, outcomes, seconds)
    return LossRun(cells, wall, cpu, load_before, os.getloadavg()[0])
