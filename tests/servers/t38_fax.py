"""A T.38 fax machine for tests: spandsp's ``t38_terminal`` (ctypes) on a UDP socket,
with a minimal UDPTL of its own (independent of umfax's ``modem/t38``): redundancy
(secondaries most recent first) on send; on receive, primaries in order and lost ones
recovered from the secondaries.  A 20 ms tick drives ``t38_terminal_send_timeout``.

It shares its lifecycle and result with :class:`~tests.servers.fax_audio.AudioFax`::

    with T38Fax(calling=True, send_tiff=page, remote=(HOST, port)) as fax:
        assert fax.wait(60).ok
"""

from __future__ import annotations

import contextlib
import ctypes
import socket
import threading
from collections import deque
from pathlib import Path
from typing import Any

from modem.sim.spandsp_lib import (
    PHASE_E,
    STEP_SAMPLES,
    TRANSFERRED_TCF,
    TX_HANDLER,
    c_buffer,
    load_spandsp,
)
from tests.servers.fax_peer import SpandspFaxPeer
from tests.servers.ports import HOST


def _length(n: int) -> bytes:
    """An aligned-PER length determinant."""
    return bytes([n]) if n < 128 else bytes([0x80 | n >> 8, n & 0xFF])


def _read_open(data: bytes, pos: int) -> tuple[bytes, int]:
    n = data[pos]
    pos += 1
    if n & 0x80:
        n = (n & 0x3F) << 8 | data[pos]
        pos += 1
    if pos + n > len(data):
        raise ValueError("UDPTL field runs past the datagram")
    return data[pos : pos + n], pos + n


def udptl_encode(seq: int, primary: bytes, secondaries: list[bytes]) -> bytes:
    """A UDPTL packet with redundancy (``secondaries``: earlier IFPs, most recent first)."""
    body = b"".join(_length(len(s)) + s for s in secondaries)
    head = seq.to_bytes(2, "big") + _length(len(primary)) + primary
    return head + b"\x00" + bytes([len(secondaries)]) + body  # CHOICE 0: secondary-ifp-packets


def udptl_decode(data: bytes) -> tuple[int, bytes, list[bytes]]:
    """Sequence number, primary IFP and secondaries (empty for FEC packets)."""
    seq = int.from_bytes(data[:2], "big")
    primary, pos = _read_open(data, 2)
    secondaries: list[bytes] = []
    if pos < len(data) and data[pos] & 0x80 == 0:  # CHOICE: secondary-ifp-packets
        count, pos = data[pos + 1], pos + 2
        for _ in range(count):
            ifp, pos = _read_open(data, pos)
            secondaries.append(ifp)
    return seq, primary, secondaries


class T38Fax(SpandspFaxPeer):
    """spandsp's T.38 terminal on a UDP socket (``HOST:port``; :attr:`port`).  The same
    arguments as :class:`~tests.servers.fax_audio.AudioFax` where they apply, plus
    ``redundancy`` (secondary IFPs per datagram)."""

    def __init__(
        self,
        *,
        calling: bool,
        send_tiff: Path | None = None,
        receive_tiff: Path | None = None,
        remote: tuple[str, int] | None = None,
        port: int = 0,
        ecm: bool = True,
        redundancy: int = 2,
        ident: str = "umfax t38 fax",
        linger: float = 1.0,
    ) -> None:
        if (send_tiff is None) == (receive_tiff is None):
            raise ValueError("give exactly one of send_tiff and receive_tiff")
        self.lib = load_spandsp()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, port))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.remote = remote
        self.sending = send_tiff is not None
        self.linger = linger
        self.datagrams_in = 0
        self.datagrams_out = 0
        self._sent: deque[bytes] = deque(maxlen=redundancy)
        self._tx_seq = 0
        self._rx_next: int | None = None
        self._peer_init()
        self._tx_cb = TX_HANDLER(self._tx)
        self._phase_e_cb = PHASE_E(self._phase_e)
        self._term = self.lib.t38_terminal_init(None, 1 if calling else 0, self._tx_cb, None)
        self._core = self.lib.t38_terminal_get_t38_core_state(self._term)
        self.lib.t38_set_data_rate_management_method(self._core, TRANSFERRED_TCF)
        self._t30 = self.lib.t38_terminal_get_t30_state(self._term)
        self.lib.t30_set_tx_ident(self._t30, ident.encode())
        self.lib.t30_set_ecm_capability(self._t30, 1 if ecm else 0)
        if send_tiff is not None:
            self.lib.t30_set_tx_file(self._t30, str(send_tiff).encode(), -1, -1)
        else:
            self.lib.t30_set_rx_file(self._t30, str(receive_tiff).encode(), -1)
        self.lib.t30_set_phase_e_handler(self._t30, self._phase_e_cb, None)
        self._thread = threading.Thread(target=self._run, name=f"t38-fax-{self.port}", daemon=True)

    # -- spandsp callbacks ------------------------------------------------------------------

    def _tx(self, state: Any, user: Any, buf: Any, length: int, count: int) -> int:
        ifp = ctypes.string_at(buf, length)
        for _ in range(max(1, count)):  # indicators come with a repeat count
            datagram = udptl_encode(self._tx_seq, ifp, list(reversed(self._sent)))
            self._tx_seq = (self._tx_seq + 1) & 0xFFFF
            if self.remote is not None:
                with contextlib.suppress(OSError):
                    self.sock.sendto(datagram, self.remote)
                    self.datagrams_out += 1
        self._sent.append(ifp)
        return 0

    # -- the 20 ms loop ---------------------------------------------------------------------

    def _deliver(self, seq: int, ifp: bytes) -> None:
        self.lib.t38_core_rx_ifp_packet(self._core, c_buffer(ifp), len(ifp), seq)

    def _receive(self) -> None:
        while True:
            try:
                data, source = self.sock.recvfrom(4096)
            except BlockingIOError:
                return
            try:
                seq, primary, secondaries = udptl_decode(data)
            except (ValueError, IndexError):
                continue
            self.datagrams_in += 1
            if self.remote is None:
                self.remote = (source[0], int(source[1]))
            if self._rx_next is not None:
                gap = (seq - self._rx_next) & 0xFFFF
                if gap >= 0x8000:  # old or duplicate
                    continue
                for back in range(min(gap, len(secondaries)), 0, -1):  # recover lost ones
                    self._deliver((seq - back) & 0xFFFF, secondaries[back - 1])
            self._deliver(seq, primary)
            self._rx_next = (seq + 1) & 0xFFFF

    def _tick(self, seq: int) -> None:
        self._receive()
        self.lib.t38_terminal_send_timeout(self._term, STEP_SAMPLES)

    # -- lifecycle ----------------------------------------------------------------------------

    def _free(self) -> None:
        if self._term:
            self.lib.t38_terminal_free(self._term)
            self._term = None
