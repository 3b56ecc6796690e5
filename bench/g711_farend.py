"""The far ends of the G.711 bench's concurrency ramp: N spandsp ``fax_state`` machines
(:class:`bench.g711_peer.BufferedAudioFax`, a thread each) on N RTP sockets, in a process
of their own so their CPU is not charged to umfax.

    python -m bench.g711_farend s:PORT,r:PORT,... CLASS:SEED,...

``s:PORT``: umfax at PORT sends, this end answers and receives; ``r:PORT``: umfax at PORT
receives, this end calls and sends call ``n``'s bench page (the pages: the second
argument, :func:`bench.g711_peer.pages_spec`).  Prints one JSON line
``{"ports": [...]}`` (its own RTP ports, same order), waits for a line on stdin (the
start), runs the calls and prints one JSON line with every call's outcome (with how many
of umfax's packets came too late for its playout buffer), its CPU seconds and its late
ticks.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.g711_peer import CODEC, BufferedAudioFax, bench_page, use_pages
from bench.sip_page import page_tiff
from tests.servers.ports import HOST

LIMIT = 240.0  # s for the whole run


def main(argv: list[str]) -> int:
    roles = [(spec[0], int(spec[2:])) for spec in argv[0].split(",")]
    use_pages(argv[1])
    with tempfile.TemporaryDirectory(prefix="umfax-g711-farend-") as tmp:
        ends = []
        for n, (role, port) in enumerate(roles):
            if role == "s":
                ends.append(BufferedAudioFax(calling=False, receive_tiff=Path(tmp) / f"rx{n}.tif",
                                             codec=CODEC, remote=(HOST, port)))
            else:
                tiff = page_tiff(bench_page(n), Path(tmp) / f"tx{n}.tif")
                ends.append(BufferedAudioFax(calling=True, send_tiff=tiff, codec=CODEC, remote=(HOST, port)))
        print(json.dumps({"ports": [e.port for e in ends]}), flush=True)
        sys.stdin.readline()  # the start
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        for end in ends:
            end.start()
        results = [end.wait(max(1.0, LIMIT - (time.monotonic() - start))) for end in ends]
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        late = sum(e.late_ticks for e in ends)
        for end in ends:
            end.close()
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print(json.dumps({"calls": [{"ok": r.ok, "text": r.completion_text, "pages": r.pages,
                                     "seconds": round(r.seconds, 2), "late": e.buffer.stats.late}
                                    for r, e in zip(results, ends, strict=True)],
                          "cpu_s": round(cpu, 2), "wall_s": round(time.monotonic() - start, 2),
                          "late_ticks": late}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
