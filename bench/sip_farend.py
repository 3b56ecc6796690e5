"""The far ends of the SIP bench's concurrency run: N spandsp T.38 terminals (answering,
receiving; ECM, V.17/V.29/V.27ter, MH/MR/MMR as in the loss matrix) on N UDP sockets, in a
process of their own so their CPU is not charged to umfax.  One loop ticks every terminal
each 20 ms (``t38_terminal_send_timeout``) and reads every socket in between; UDPTL is the
minimal independent one of :mod:`tests.servers.t38_fax` (redundancy 2; spandsp's repeat
counts sent as the same datagram again, as FreeSWITCH does).

    python -m bench.sip_farend PORT1,PORT2,...   (umfax's ports, one per call)

prints one JSON line ``{"ports": [...]}`` (its own ports, in the same order), waits for a
line on stdin (the start), runs the calls and prints one JSON line with every call's
outcome and its own CPU seconds.
"""

from __future__ import annotations

import ctypes
import json
import resource
import selectors
import socket
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from modem.sim.spandsp_lib import (
    PHASE_E,
    STEP_SAMPLES,
    SUPPORT_T4_1D_T4_2D_T6,
    SUPPORT_V27TER_V29_V17,
    TRANSFERRED_TCF,
    TX_HANDLER,
    T30Stats,
    c_buffer,
    completion_text,
    load_spandsp,
)
from tests.servers.ports import HOST
from tests.servers.t38_fax import udptl_decode, udptl_encode

TICK = STEP_SAMPLES / 8000
REDUNDANCY = 2
LINGER = 1.0  # s a terminal keeps running after its phase E (to answer repeats)
LIMIT = 240.0  # s for the whole run


class FarEnd:
    """One answering spandsp T.38 terminal on one socket."""

    def __init__(self, lib: Any, sock: socket.socket, remote: tuple[str, int], rx_file: Path) -> None:
        self.lib, self.sock, self.remote = lib, sock, remote
        self._sent: deque[bytes] = deque(maxlen=REDUNDANCY)
        self._seq = 0
        self._rx_next: int | None = None
        self.phase_e: int | None = None
        self.ended_at: float | None = None
        self.started = 0.0
        self.pages = 0
        self.datagrams_in = self.datagrams_out = 0
        self._cb_tx = TX_HANDLER(self._tx)
        self._cb_e = PHASE_E(self._on_phase_e)
        self.term = lib.t38_terminal_init(None, 0, self._cb_tx, None)
        core = self.core = lib.t38_terminal_get_t38_core_state(self.term)
        lib.t38_set_data_rate_management_method(core, TRANSFERRED_TCF)
        self.t30 = lib.t38_terminal_get_t30_state(self.term)
        lib.t30_set_tx_ident(self.t30, b"SPANDSP FAR END")
        lib.t30_set_ecm_capability(self.t30, 1)
        lib.t30_set_supported_modems(self.t30, SUPPORT_V27TER_V29_V17)
        lib.t30_set_supported_compressions(self.t30, SUPPORT_T4_1D_T4_2D_T6)
        lib.t30_set_rx_file(self.t30, str(rx_file).encode(), -1)
        lib.t30_set_phase_e_handler(self.t30, self._cb_e, None)

    def _tx(self, _s: Any, _u: Any, buf: Any, length: int, count: int) -> int:
        ifp = ctypes.string_at(buf, length)
        datagram = udptl_encode(self._seq, ifp, list(reversed(self._sent)))
        self._seq = (self._seq + 1) & 0xFFFF
        self._sent.append(ifp)
        for _ in range(max(1, count)):
            try:
                self.sock.sendto(datagram, self.remote)
                self.datagrams_out += 1
            except OSError:
                pass
        return 0

    def _on_phase_e(self, _s: Any, _u: Any, code: int) -> None:
        self.phase_e = code
        self.ended_at = time.monotonic()
        stats = T30Stats()
        self.lib.t30_get_transfer_statistics(self.t30, ctypes.byref(stats))
        self.pages = int(stats.pages_rx)

    def _deliver(self, seq: int, ifp: bytes) -> None:
        self.lib.t38_core_rx_ifp_packet(self.core, c_buffer(ifp), len(ifp), seq)

    def readable(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            try:
                seq, primary, secondaries = udptl_decode(data)
            except (ValueError, IndexError):
                continue
            self.datagrams_in += 1
            if self.term is None:
                continue
            if self._rx_next is not None:
                gap = (seq - self._rx_next) & 0xFFFF
                if gap >= 0x8000:  # old or duplicate
                    continue
                for back in range(min(gap, len(secondaries)), 0, -1):
                    self._deliver((seq - back) & 0xFFFF, secondaries[back - 1])
            self._deliver(seq, primary)
            self._rx_next = (seq + 1) & 0xFFFF

    def tick(self, now: float) -> None:
        if self.term is None:
            return
        if self.ended_at is not None and now - self.ended_at >= LINGER:
            self.close()
            return
        self.lib.t38_terminal_send_timeout(self.term, STEP_SAMPLES)

    def close(self) -> None:
        if self.term is not None:
            if self.phase_e is None:
                self.lib.t30_terminate(self.t30)
            self.lib.t38_terminal_free(self.term)
            self.term = None

    def outcome(self) -> dict[str, Any]:
        return {
            "completion": self.phase_e,
            "text": completion_text(self.phase_e) if self.phase_e is not None else "no phase E",
            "pages": self.pages,
            "seconds": round((self.ended_at or time.monotonic()) - self.started, 2),
            "datagrams_in": self.datagrams_in,
            "datagrams_out": self.datagrams_out,
        }


def main(argv: list[str]) -> int:
    ours = [int(p) for p in argv[0].split(",")]
    lib = load_spandsp()
    sel = selectors.DefaultSelector()
    with tempfile.TemporaryDirectory(prefix="umfax-sip-farend-") as tmp:
        ends = []
        for n, port in enumerate(ours):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((HOST, 0))
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            end = FarEnd(lib, sock, (HOST, port), Path(tmp) / f"rx{n}.tif")
            sel.register(sock, selectors.EVENT_READ, end)
            ends.append(end)
        print(json.dumps({"ports": [e.sock.getsockname()[1] for e in ends]}), flush=True)
        sys.stdin.readline()  # the start
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        start = next_tick = time.monotonic()
        for end in ends:
            end.started = start
        late_ticks = 0
        while any(e.term is not None for e in ends) and time.monotonic() - start < LIMIT:
            now = time.monotonic()
            for key, _ in sel.select(max(0.0, next_tick - now)):
                key.data.readable()
            now = time.monotonic()
            if now >= next_tick:
                for end in ends:
                    end.tick(now)
                next_tick += TICK
                if now - next_tick > TICK:  # more than a tick behind: do not try to catch up
                    late_ticks += 1
                    next_tick = now + TICK
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        for end in ends:
            end.close()
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print(json.dumps({"calls": [e.outcome() for e in ends], "cpu_s": round(cpu, 2),
                          "wall_s": round(time.monotonic() - start, 2), "late_ticks": late_ticks}),
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
