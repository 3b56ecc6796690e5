"""Test helpers: spandsp's own T.38 terminal and T.38 core (ctypes), driven in virtual
time, as an independent far end and an independent IFP encoder; multi-page TIFF-F files
for it to send; and a call loop in 20 ms steps."""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modem.api import PageImage
from modem.sim.spandsp_lib import (
    COMPRESSION_BITS,
    MODEM_BITS,
    PHASE_E,
    RX_DATA,
    RX_IND,
    RX_MISSING,
    STEP_SAMPLES,
    TX_HANDLER,
    T30Stats,
    c_buffer,
    completion_text,
    load_spandsp,
)
from modem.t38.ifp import decode_ifp, encode_ifp
from modem.t38.terminal import T38Terminal

STEP_S = STEP_SAMPLES / 8000  # 20 ms


class FieldStruct(ctypes.Structure):
    """spandsp's t38_data_field_t."""

    _fields_ = [("field_type", ctypes.c_int), ("field", ctypes.c_void_p), ("field_len", ctypes.c_int)]


def lib() -> Any:
    """libspandsp with the few extra prototypes these tests use declared."""
    spandsp = load_spandsp()
    vp, i = ctypes.c_void_p, ctypes.c_int
    for name, res, args in (
        ("t38_set_t38_version", None, [vp, i]),
        ("t38_core_send_data_multi_field", i, [vp, i, ctypes.POINTER(FieldStruct), i, i]),
        ("t38_terminal_set_config", None, [vp, i]),
    ):
        f = getattr(spandsp, name)
        f.restype, f.argtypes = res, args
    return spandsp


class SpandspCore:
    """A bare spandsp T.38 core used as an IFP encoder: what it would send for an
    indicator or data fields."""

    def __init__(self, version: int) -> None:
        self._lib = lib()
        self.out: list[bytes] = []
        self._cb_tx = TX_HANDLER(self._tx)
        self._cb_ind = RX_IND(lambda *_: 0)
        self._cb_data = RX_DATA(lambda *_: 0)
        self._cb_missing = RX_MISSING(lambda *_: 0)
        self.core = self._lib.t38_core_init(None, self._cb_ind, self._cb_data, self._cb_missing,
                                            None, self._cb_tx, None)
        self._lib.t38_set_t38_version(self.core, version)

    def _tx(self, _s: Any, _u: Any, buf: Any, length: int, _count: int) -> int:
        self.out.append(ctypes.string_at(buf, length))
        return 0

    def indicator(self, ind: int) -> bytes:
        self.out.clear()
        self._lib.t38_core_send_indicator(self.core, ind)
        return b"".join(self.out)

    def data(self, data_type: int, fields: Sequence[tuple[int, bytes]]) -> bytes:
        self.out.clear()
        arr = (FieldStruct * len(fields))()
        keep = []
        for k, (ftype, payload) in enumerate(fields):
            buf = c_buffer(payload)
            keep.append(buf)
            arr[k] = FieldStruct(ftype, ctypes.cast(buf, ctypes.c_void_p).value, len(payload))
        rc = self._lib.t38_core_send_data_multi_field(self.core, data_type, arr, len(fields), 3)
        assert rc == 0, rc
        return b"".join(self.out)

    def close(self) -> None:
        self._lib.t38_core_free(self.core)


class SpandspTerminal:
    """spandsp's ``t38_terminal``: IFP octets in and out, its clock advanced 20 ms a step.

    :meth:`receive` takes the number of IFPs lost before one, and skips that many
    sequence numbers (spandsp notices losses from them).
    """

    def __init__(self, calling: bool, *, ecm: bool, version: int = 0, ident: str = "SPANDSP",
                 tx_file: Path | None = None, rx_file: Path | None = None,
                 modems: tuple[str, ...] = ("v17", "v29", "v27"),
                 compressions: tuple[str, ...] = ("mh", "mr", "mmr")) -> None:
        spandsp = self._lib = lib()
        self.version = version
        self.sent: list[bytes] = []  # every IFP it emitted
        self._outbox: list[bytes] = []
        self.phase_e: int | None = None
        self._seq = 0
        self._cb_tx = TX_HANDLER(self._tx)
        self._cb_e = PHASE_E(self._on_phase_e)
        self.term = spandsp.t38_terminal_init(None, int(calling), self._cb_tx, None)
        assert self.term
        core = spandsp.t38_terminal_get_t38_core_state(self.term)
        spandsp.t38_set_t38_version(core, version)
        self.t30 = spandsp.t38_terminal_get_t30_state(self.term)
        spandsp.t30_set_tx_ident(self.t30, ident.encode())
        spandsp.t30_set_ecm_capability(self.t30, int(ecm))
        spandsp.t30_set_supported_modems(self.t30, sum(MODEM_BITS[m] for m in modems))
        spandsp.t30_set_supported_compressions(self.t30, sum(COMPRESSION_BITS[c] for c in compressions))
        if tx_file is not None:
            spandsp.t30_set_tx_file(self.t30, str(tx_file).encode(), -1, -1)
        if rx_file is not None:
            spandsp.t30_set_rx_file(self.t30, str(rx_file).encode(), -1)
        spandsp.t30_set_phase_e_handler(self.t30, self._cb_e, None)
        self.core = core

    def _tx(self, _s: Any, _u: Any, buf: Any, length: int, count: int) -> int:
        data = ctypes.string_at(buf, length)
        self.sent.append(data)
        for _ in range(max(1, count)):  # as FreeSWITCH sends it: each copy its own packet
            self._outbox.append(data)
        return 0

    def _on_phase_e(self, _s: Any, _u: Any, code: int) -> None:
        self.phase_e = code

    @property
    def completion(self) -> str:
        return completion_text(self.phase_e) if self.phase_e is not None else "running"

    def step(self) -> list[bytes]:
        """20 ms on its clock; the IFPs it sent meanwhile."""
        self._lib.t38_terminal_send_timeout(self.term, STEP_SAMPLES)
        out, self._outbox = self._outbox, []
        return out

    def receive(self, data: bytes, lost_before: int = 0) -> None:
        self._seq = (self._seq + 1 + lost_before) & 0xFFFF
        self._lib.t38_core_rx_ifp_packet(self.core, c_buffer(data), len(data), self._seq)

    def stats(self) -> T30Stats:
        st = T30Stats()
        self._lib.t30_get_transfer_statistics(self.t30, ctypes.byref(st))
        return st

    def close(self) -> None:
        if self.term:
            if self.phase_e is None:
                self._lib.t30_terminate(self.t30)
            self._lib.t38_terminal_free(self.term)
            self.term = None


# --- call loops ----------------------------------------------------------------------------

Drop = Callable[[int, bytes], bool]  # (index of the IFP in its direction, octets) -> lose it


def run_with_spandsp(ours: T38Terminal, peer: SpandspTerminal, *, limit_s: float = 400.0,
                     drop_to_peer: Drop | None = None, drop_to_us: Drop | None = None,
                     stop_when_ours_done: bool = False) -> float:
    """Both terminals in virtual time, 20 ms steps, IFPs passed as octets (each side
    encodes/decodes in the peer's T.38 version); returns the simulated call time.

    ``drop_*`` lose IFPs on the way (the receiver is told how many it lost, as UDPTL
    sequence numbers would); ``stop_when_ours_done``: do not wait for spandsp to end.
    """
    t = 0.0
    n_up = n_down = 0
    lost_up = lost_down = 0
    ours.start(t)
    while t < limit_s:
        t = round(t + STEP_S, 6)
        for data in peer.step():
            n_down += 1
            if drop_to_us is not None and drop_to_us(n_down, data):
                lost_down += 1
                continue
            ours.receive(decode_ifp(data, peer.version), t, lost_before=lost_down)
            lost_down = 0
        for ifp in ours.poll(t):
            data = encode_ifp(ifp, peer.version)
            n_up += 1
            if drop_to_peer is not None and drop_to_peer(n_up, data):
                lost_up += 1
                continue
            peer.receive(data, lost_up)
            lost_up = 0
        if ours.finished and (peer.phase_e is not None or stop_when_ours_done):
            break
    return t


def run_ours(a: T38Terminal, b: T38Terminal, *, limit_s: float = 400.0, version: int = 0) -> float:
    """Two of our terminals in virtual time (IFPs through the codec); the call time."""
    t = 0.0
    a.start(t)
    b.start(t)
    while t < limit_s and not (a.finished and b.finished):
        t = round(t + STEP_S, 6)
        for src, dst in ((a, b), (b, a)):
            for ifp in src.poll(t):
                dst.receive(decode_ifp(encode_ifp(ifp, version), version), t)
    return t


# --- TIFF-F ----------------------------------------------------------------------------------


def multipage_tiff(pages: Sequence[PageImage]) -> bytes:
    """A multi-page single-strip min-is-white TIFF (TIFF-F like) of coded pages."""
    out = bytearray(b"II*\x00" + struct.pack("<I", 8))
    for n, page in enumerate(pages):
        compression = 4 if page.encoding == "mmr" else 3
        entries: list[tuple[int, int, int, int]] = [
            (256, 4, 1, page.width), (257, 4, 1, page.length), (258, 3, 1, 1),
            (259, 3, 1, compression), (262, 3, 1, 0), (266, 3, 1, 1), (273, 4, 1, 0),
            (277, 3, 1, 1), (278, 4, 1, page.length), (279, 4, 1, len(page.data)),
            (282, 5, 1, 0), (283, 5, 1, 0), (296, 3, 1, 2), (297, 3, 2, n | len(pages) << 16),
        ]
        if page.encoding != "mmr":
            entries.append((292, 4, 1, (1 if page.encoding == "mr" else 0) | 4))
        entries.sort()
        ifd_at = len(out)
        ifd_size = 2 + 12 * len(entries) + 4
        rat_at = ifd_at + ifd_size
        data_at = rat_at + 16
        next_at = data_at + len(page.data) + (len(page.data) & 1)
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            value = {273: data_at, 282: rat_at, 283: rat_at + 8}.get(tag, value)
            if typ == 3 and count == 1:
                out += struct.pack("<HHIHH", tag, typ, count, value, 0)
            elif typ == 3:
                out += struct.pack("<HHIHH", tag, typ, count, value & 0xFFFF, value >> 16)
            else:
                out += struct.pack("<HHII", tag, typ, count, value)
        out += struct.pack("<I", next_at if n + 1 < len(pages) else 0)
        out += struct.pack("<IIII", round(page.x_res * 100), 100, round(page.y_res * 100), 100)
        out += page.data + b"\0" * (len(page.data) & 1)
    return bytes(out)
