"""Remote fax machines made of spandsp's T.38 terminal (libspandsp2, through ctypes).

spandsp's ``t38_terminal`` is a complete T.30 endpoint that talks T.38 IFP
packets.  T.38 indicators and data fields map one to one onto our line events
(:mod:`modem.sim.line`), which map one to one onto Class 1's +FTH/+FRH/+FTM/+FRM,
so a :class:`SpandspFax` on the simulated exchange is a third-party T.30 peer for
any DTE driving a :class:`~modem.sim.exchange.SimModem`.

Encoding and decoding of IFP packets is left to spandsp too: the bridge owns a
second ``t38_core`` (our side of the T.38 link) whose indicator/data callbacks
receive what the terminal sends, and whose ``t38_core_send_*`` produce the
packets the terminal receives.

Conversions done by the bridge:

* bit order: T.38 carries octets with the first-sent bit as the MSB; T.31
  (and our line) has it as the LSB, so every HDLC and image octet is reversed;
* V.21 HDLC frames: T.38 HDLC_DATA + FCS_OK/BAD fields <-> :class:`HdlcFrame`;
* ECM frames on a high-speed carrier: T.38 gives frames, a Class 1 DTE sends
  and expects a raw bit stream with flags and zero-bit stuffing; the bridge
  frames/deframes with :class:`HdlcBitEncoder`/:class:`HdlcBitDecoder`.  It
  knows a carrier is ECM from the last DCS (bit 27) and that the carrier after
  a DCS is TCF (plain zeros);
* non-ECM image data and TCF: T.38 T4_NON_ECM_DATA <-> :class:`Data`.

Time: the terminal's clock is advanced in 20 ms (160 sample) steps up to the
exchange's simulated time, so its T.30 timers and its paced transmission run
in simulated time.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import queue
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modem.sim.line import (
    CallAnswered,
    CallCleared,
    CallOffered,
    CarrierOff,
    CarrierOn,
    Data,
    HdlcBitDecoder,
    HdlcBitEncoder,
    HdlcFrame,
    LineEvent,
    T30Sniffer,
    Tone,
    bit_reverse,
)

if TYPE_CHECKING:
    from modem.sim.exchange import Call, SimExchange

from modem.sim.exchange import Endpoint

log = logging.getLogger(__name__)

# --- spandsp constants (spandsp/t38_core.h, t30.h) -------------------------------------------

IND_NO_SIGNAL = 0
IND_CNG = 1
IND_CED = 2
IND_V21_PREAMBLE = 3

#: T.38 training indicator -> T.31 modulation code.
IND_TO_MOD = {4: 24, 5: 48, 6: 72, 7: 96, 8: 74, 9: 73, 10: 98, 11: 97, 12: 122, 13: 121,
              14: 146, 15: 145}
MOD_TO_IND = {v: k for k, v in IND_TO_MOD.items()}
#: T.31 modulation code -> T.38 data type.
MOD_TO_DATA = {3: 0, 24: 1, 48: 2, 72: 3, 96: 4, 73: 5, 74: 5, 97: 6, 98: 6, 121: 7, 122: 7,
               145: 8, 146: 8}

F_HDLC_DATA = 0
F_HDLC_SIG_END = 1
F_HDLC_FCS_OK = 2
F_HDLC_FCS_BAD = 3
F_HDLC_FCS_OK_SIG_END = 4
F_HDLC_FCS_BAD_SIG_END = 5
F_NON_ECM_DATA = 6
F_NON_ECM_SIG_END = 7

CAT_INDICATOR = 0
CAT_CONTROL_DATA = 1
CAT_CONTROL_DATA_END = 2
CAT_IMAGE_DATA = 3
CAT_IMAGE_DATA_END = 4

TRANSFERRED_TCF = 2
SUPPORT_V27TER_V29_V17 = 0x07
SUPPORT_T4_1D_T4_2D_T6 = 0x02 | 0x04 | 0x08
MODEM_BITS = {"v27": 0x01, "v29": 0x02, "v17": 0x04}  # T30_SUPPORT_V27TER...
COMPRESSION_BITS = {"mh": 0x02, "mr": 0x04, "mmr": 0x08}  # T30_SUPPORT_T4_1D...


def _mask(names: tuple[str, ...], bits: dict[str, int], what: str) -> int:
    unknown = set(names) - set(bits)
    if unknown or not names:
        raise ValueError(f"{what} must be some of {sorted(bits)}, not {names!r}")
    return sum(bits[n] for n in set(names))
STEP_SAMPLES = 160  # 20 ms at 8 kHz
SAMPLE_RATE = 8000

_TX_HANDLER = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int,
    ctypes.c_int,
)
_RX_IND = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
_RX_DATA = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
    ctypes.POINTER(ctypes.c_uint8), ctypes.c_int,
)
_RX_MISSING = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                               ctypes.c_int)
_PHASE_E = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
_PHASE_D = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)


class T30Stats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in (
        "bit_rate", "error_correcting_mode", "pages_tx", "pages_rx", "pages_in_file",
        "x_resolution", "y_resolution", "width", "length", "image_size", "encoding", "bad_rows",
        "longest_bad_row_run", "error_correcting_mode_retries", "current_status",
    )] + [("_spare", ctypes.c_int * 16)]


class SpandspUnavailable(RuntimeError):
    """libspandsp could not be loaded."""


_lib: Any = None
_lib_lock = threading.Lock()


def load_spandsp() -> Any:
    """The spandsp shared library with the prototypes we use declared."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        name = ctypes.util.find_library("spandsp") or "libspandsp.so.2"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:  # pragma: no cover - depends on the machine
            raise SpandspUnavailable(f"cannot load {name}: {e} (apt install libspandsp2)") from e
        vp, i, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
        sigs: dict[str, tuple[Any, list[Any]]] = {
            "t38_terminal_init": (vp, [vp, i, _TX_HANDLER, vp]),
            "t38_terminal_free": (i, [vp]),
            "t38_terminal_send_timeout": (i, [vp, i]),
            "t38_terminal_set_config": (None, [vp, i]),
            "t38_terminal_set_tep_mode": (None, [vp, i]),
            "t38_terminal_get_t30_state": (vp, [vp]),
            "t38_terminal_get_t38_core_state": (vp, [vp]),
            "t38_core_init": (vp, [vp, _RX_IND, _RX_DATA, _RX_MISSING, vp, _TX_HANDLER, vp]),
            "t38_core_free": (i, [vp]),
            "t38_core_rx_ifp_packet": (i, [vp, ctypes.POINTER(ctypes.c_uint8), i, ctypes.c_uint16]),
            "t38_core_send_indicator": (i, [vp, i]),
            "t38_core_send_data": (i, [vp, i, i, ctypes.POINTER(ctypes.c_uint8), i, i]),
            "t38_set_data_rate_management_method": (None, [vp, i]),
            "t38_set_sequence_number_handling": (None, [vp, i]),
            "t30_set_tx_ident": (i, [vp, cp]),
            "t30_get_rx_ident": (cp, [vp]),
            "t30_set_tx_file": (None, [vp, cp, i, i]),
            "t30_set_rx_file": (None, [vp, cp, i]),
            "t30_set_ecm_capability": (i, [vp, i]),
            "t30_set_supported_modems": (i, [vp, i]),
            "t30_set_supported_compressions": (i, [vp, i]),
            "t30_set_phase_e_handler": (None, [vp, _PHASE_E, vp]),
            "t30_set_phase_d_handler": (None, [vp, _PHASE_D, vp]),
            "t30_get_transfer_statistics": (None, [vp, ctypes.POINTER(T30Stats)]),
            "t30_completion_code_to_str": (cp, [i]),
            "t30_terminate": (None, [vp]),
        }
        for fn, (res, args) in sigs.items():
            f = getattr(lib, fn)
            f.restype = res
            f.argtypes = args
        _lib = lib
        return lib


def spandsp_available() -> bool:
    try:
        load_spandsp()
    except SpandspUnavailable:
        return False
    return True


def _buf(data: bytes) -> Any:
    return (ctypes.c_uint8 * max(1, len(data))).from_buffer_copy(data or b"\0")


# --- the T.38 bridge --------------------------------------------------------------------------


class T38Bridge:
    """One spandsp T.38 terminal and the conversion to/from line events.

    Not thread-safe: one thread calls :meth:`feed`, :meth:`advance` and
    :meth:`take_events`.  ``on_phase_e(code)`` is called when T.30 ends.
    """

    def __init__(
        self,
        calling: bool,
        ident: str,
        ecm: bool,
        tx_file: str | None = None,
        rx_file: str | None = None,
        supported_modems: int = SUPPORT_V27TER_V29_V17,
        compressions: int = SUPPORT_T4_1D_T4_2D_T6,
    ) -> None:
        lib = self._lib = load_spandsp()
        self.events: list[LineEvent] = []
        self.phase_e: int | None = None
        self.page_results: list[tuple[int, int]] = []  # (phase D result, bad rows) per page
        self.samples = 0
        self._seq_to_term = 0
        self._seq_from_term = 0
        self._tx_mod: int | None = None  # carrier the terminal is sending
        self._hdlc_acc = bytearray()
        self._enc = HdlcBitEncoder()
        self._enc_started = False
        self._rx_mod: int | None = None  # carrier arriving from the line
        self._dec = HdlcBitDecoder()
        self._rx_hdlc = False
        self.sniffer = T30Sniffer()
        # Keep every callback object alive as long as the C side may call it.
        self._cb_term_tx = _TX_HANDLER(self._from_terminal)
        self._cb_core_tx = _TX_HANDLER(self._to_terminal)
        self._cb_ind = _RX_IND(self._on_indicator)
        self._cb_data = _RX_DATA(self._on_data)
        self._cb_missing = _RX_MISSING(lambda *_: 0)
        self._cb_e = _PHASE_E(self._on_phase_e)
        self._cb_d = _PHASE_D(self._on_phase_d)
        self.term = lib.t38_terminal_init(None, int(calling), self._cb_term_tx, None)
        if not self.term:
            raise SpandspUnavailable("t38_terminal_init failed")
        self.core = lib.t38_core_init(
            None, self._cb_ind, self._cb_data, self._cb_missing, None, self._cb_core_tx, None
        )
        self.term_core = lib.t38_terminal_get_t38_core_state(self.term)
        for c in (self.core, self.term_core):
            lib.t38_set_data_rate_management_method(c, TRANSFERRED_TCF)
        self.t30 = lib.t38_terminal_get_t30_state(self.term)
        lib.t30_set_tx_ident(self.t30, ident.encode())
        lib.t30_set_ecm_capability(self.t30, int(ecm))
        lib.t30_set_supported_modems(self.t30, supported_modems)
        lib.t30_set_supported_compressions(self.t30, compressions)
        if tx_file:
            lib.t30_set_tx_file(self.t30, tx_file.encode(), -1, -1)
        if rx_file:
            lib.t30_set_rx_file(self.t30, rx_file.encode(), -1)
        lib.t30_set_phase_e_handler(self.t30, self._cb_e, None)
        lib.t30_set_phase_d_handler(self.t30, self._cb_d, None)

    def close(self) -> None:
        if self.term:
            self._lib.t38_terminal_free(self.term)
            self.term = None
        if self.core:
            self._lib.t38_core_free(self.core)
            self.core = None

    # --- clock ----------------------------------------------------------------------------

    def advance(self, sim_seconds: float) -> None:
        """Run the terminal's clock up to ``sim_seconds`` after its start."""
        target = int(sim_seconds * SAMPLE_RATE)
        while self.term and self.samples + STEP_SAMPLES <= target:
            self._lib.t38_terminal_send_timeout(self.term, STEP_SAMPLES)
            self.samples += STEP_SAMPLES

    def terminate(self) -> None:
        if self.term and self.phase_e is None:
            self._lib.t30_terminate(self.t30)

    def stats(self) -> T30Stats:
        st = T30Stats()
        if self.term:
            self._lib.t30_get_transfer_statistics(self.t30, ctypes.byref(st))
        return st

    def remote_ident(self) -> str:
        if not self.term:
            return ""
        r = self._lib.t30_get_rx_ident(self.t30)
        return r.decode("latin-1").strip() if r else ""

    def take_events(self) -> list[LineEvent]:
        ev, self.events = self.events, []
        return ev

    # --- terminal -> line -----------------------------------------------------------------

    def _from_terminal(self, _s: Any, _u: Any, buf: Any, length: int, _count: int) -> int:
        data = ctypes.string_at(buf, length)
        self._seq_from_term = (self._seq_from_term + 1) & 0xFFFF
        self._lib.t38_core_rx_ifp_packet(self.core, _buf(data), length, self._seq_from_term)
        return 0

    def _carrier(self, mod: int | None) -> None:
        if self._tx_mod is not None and self._tx_mod != mod:
            self._flush_ecm()
            self.events.append(CarrierOff())
            self._tx_mod = None
        if mod is not None and self._tx_mod is None:
            self.events.append(CarrierOn(mod))
            self._tx_mod = mod
            self._enc = HdlcBitEncoder()
            self._enc_started = False

    def _flush_ecm(self) -> None:
        if self._enc_started:
            tail = self._enc.flush()
            if tail:
                self.events.append(Data(tail))
            self._enc_started = False

    def _on_indicator(self, _s: Any, _u: Any, ind: int) -> int:
        if ind == IND_NO_SIGNAL:
            self._carrier(None)
        elif ind in (IND_CNG, IND_CED):
            self._carrier(None)
            self.events.append(Tone("cng" if ind == IND_CNG else "ced"))
        elif ind == IND_V21_PREAMBLE:
            self._carrier(3)
        elif ind in IND_TO_MOD:
            self._carrier(IND_TO_MOD[ind])
        return 0

    def _on_data(self, _s: Any, _u: Any, dtype: int, ftype: int, buf: Any, length: int) -> int:
        raw = ctypes.string_at(buf, length) if length > 0 else b""
        data = bit_reverse(raw)
        if self._tx_mod is None:  # data without an indicator: infer the carrier
            self._carrier(3 if dtype == 0 else next(
                (m for m, d in MOD_TO_DATA.items() if d == dtype and m in (24, 48, 72, 96, 146)), 146
            ))
        v21 = dtype == 0
        if ftype == F_HDLC_DATA:
            self._hdlc_acc.extend(data)
        elif ftype in (F_HDLC_FCS_OK, F_HDLC_FCS_BAD, F_HDLC_FCS_OK_SIG_END,
                       F_HDLC_FCS_BAD_SIG_END):
            self._hdlc_acc.extend(data)
            frame = bytes(self._hdlc_acc)
            self._hdlc_acc.clear()
            ok = ftype in (F_HDLC_FCS_OK, F_HDLC_FCS_OK_SIG_END)
            if frame:
                if v21:
                    self.sniffer.frame(frame)
                    self.events.append(HdlcFrame(frame, ok))
                else:
                    if not self._enc_started:
                        self.events.append(Data(self._enc.flags(8)))
                        self._enc_started = True
                    self.events.append(Data(self._enc.frame(frame, ok) + self._enc.flags(1)))
            if ftype in (F_HDLC_FCS_OK_SIG_END, F_HDLC_FCS_BAD_SIG_END):
                self._carrier(None)
        elif ftype == F_HDLC_SIG_END:
            self._hdlc_acc.clear()
            self._carrier(None)
        elif ftype in (F_NON_ECM_DATA, F_NON_ECM_SIG_END):
            if data:
                self.events.append(Data(data))
            if ftype == F_NON_ECM_SIG_END:
                self._carrier(None)
        return 0

    # --- line -> terminal -----------------------------------------------------------------

    def _to_terminal(self, _s: Any, _u: Any, buf: Any, length: int, _count: int) -> int:
        data = ctypes.string_at(buf, length)
        self._seq_to_term = (self._seq_to_term + 1) & 0xFFFF
        self._lib.t38_core_rx_ifp_packet(self.term_core, _buf(data), length, self._seq_to_term)
        return 0

    def _send_data(self, ftype: int, data: bytes, category: int) -> None:
        mod = self._rx_mod if self._rx_mod is not None else 3
        rev = bit_reverse(data)
        self._lib.t38_core_send_data(
            self.core, MOD_TO_DATA.get(mod, 0), ftype, _buf(rev), len(rev), category
        )

    def feed(self, ev: LineEvent) -> None:
        lib = self._lib
        if isinstance(ev, Tone):
            lib.t38_core_send_indicator(self.core, IND_CNG if ev.kind == "cng" else IND_CED)
        elif isinstance(ev, CarrierOn):
            self._rx_mod = ev.mod
            if ev.mod == 3:
                lib.t38_core_send_indicator(self.core, IND_V21_PREAMBLE)
            else:
                self.sniffer.carrier_on(ev.mod)
                self._rx_hdlc = self.sniffer.ecm and not self.sniffer.in_tcf
                self._dec = HdlcBitDecoder()
                lib.t38_core_send_indicator(self.core, MOD_TO_IND[ev.mod])
        elif isinstance(ev, HdlcFrame):
            self.sniffer.frame(ev.data)
            self._send_data(F_HDLC_DATA, ev.data, CAT_CONTROL_DATA)
            self._send_data(F_HDLC_FCS_OK if ev.fcs_ok else F_HDLC_FCS_BAD, b"", CAT_CONTROL_DATA)
        elif isinstance(ev, Data):
            if self._rx_hdlc:
                for frame, ok in self._dec.feed(ev.data):
                    self._send_data(F_HDLC_DATA, frame, CAT_IMAGE_DATA)
                    self._send_data(F_HDLC_FCS_OK if ok else F_HDLC_FCS_BAD, b"", CAT_IMAGE_DATA)
            else:
                self._send_data(F_NON_ECM_DATA, ev.data, CAT_IMAGE_DATA)
        elif isinstance(ev, CarrierOff):
            if self._rx_mod is None:
                lib.t38_core_send_indicator(self.core, IND_NO_SIGNAL)
                return
            if self._rx_mod == 3 or self._rx_hdlc:
                self._send_data(F_HDLC_SIG_END, b"", CAT_CONTROL_DATA_END)
            else:
                self._send_data(F_NON_ECM_SIG_END, b"", CAT_IMAGE_DATA_END)
            if self._rx_mod != 3:
                self.sniffer.carrier_off()
            self._rx_mod = None
            self._rx_hdlc = False
            lib.t38_core_send_indicator(self.core, IND_NO_SIGNAL)

    # --- T.30 callbacks -------------------------------------------------------------------

    def _on_phase_e(self, _s: Any, _u: Any, code: int) -> None:
        self.phase_e = code

    def _on_phase_d(self, _s: Any, _u: Any, result: int) -> int:
        st = self.stats()
        self.page_results.append((result, st.bad_rows))
        return 0


def completion_text(code: int) -> str:
    r = load_spandsp().t30_completion_code_to_str(code)
    return r.decode() if r else str(code)


# --- the remote fax machine -----------------------------------------------------------------


@dataclass
class FaxSession:
    """One call a :class:`SpandspFax` took part in."""

    direction: str  # "rx" | "tx"
    number: str  # the other party's number (caller's for rx, dialled for tx)
    started: float  # simulated seconds
    ended: float = 0.0
    completion: int | None = None  # spandsp T30_ERR_* code; 0 is success, None: never ran
    completion_text: str = ""
    remote_ident: str = ""
    pages: int = 0  # pages transferred (received pages in the TIFF, or pages sent)
    bit_rate: int = 0
    ecm: bool = False
    page_results: list[tuple[int, int]] = field(default_factory=list)
    tiff: Path | None = None  # received pages (multi-page TIFF) for rx sessions
    dial_result: str = ""  # set when an outgoing call did not connect (BUSY...)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def ok(self) -> bool:
        return self.completion == 0


class SpandspFax(Endpoint):
    """A remote fax machine: spandsp's T.30 behind the simulated exchange.

    It answers incoming calls after ``answer_after`` simulated seconds and
    receives (pages kept in :attr:`sessions`); :meth:`send` makes it call a
    number and send a TIFF.  ``ecm`` enables error correction mode; ``modems``
    (of "v17", "v29", "v27") and ``compressions`` (of "mh", "mr", "mmr") are what
    its DIS offers and its DCS may choose.
    """

    kind = "receiver"

    def __init__(
        self,
        exchange: SimExchange,
        number: str,
        name: str,
        ecm: bool = False,
        ident: str | None = None,
        answer_after: float = 4.0,
        ring_timeout: float = 60.0,
        workdir: str | None = None,
        modems: tuple[str, ...] = ("v17", "v29", "v27"),
        compressions: tuple[str, ...] = ("mh", "mr", "mmr"),
    ) -> None:
        self._modem_mask = _mask(tuple(modems), MODEM_BITS, "modems")
        self._compression_mask = _mask(tuple(compressions), COMPRESSION_BITS, "compressions")
        super().__init__(exchange, number, name)
        load_spandsp()
        self.ecm = ecm
        self.ident = ident if ident is not None else number
        self.answer_after = answer_after
        self.ring_timeout = ring_timeout
        self._give_up_at: float | None = None
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"umfax-sim-{name}-"))
        self.sessions: list[FaxSession] = []
        self._inbox: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._bridge: T38Bridge | None = None
        self._session: FaxSession | None = None
        self._active: Call | None = None
        self._t0 = 0.0
        self._answer_at: float | None = None
        self._pending_tx: tuple[str, str] | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"spandsp-{name}", daemon=True)
        self._thread.start()

    # --- API ------------------------------------------------------------------------------

    def send(self, number: str, tiff: str | os.PathLike[str]) -> FaxSession:
        """Call ``number`` and send ``tiff``.  Returns the session (wait on ``.done``)."""
        sess = FaxSession("tx", number, self.clock.now())
        self._inbox.put(("send", (number, os.fspath(tiff), sess)))
        return sess

    def wait_session(self, timeout: float, index: int = -1) -> FaxSession | None:
        """Wait (wall seconds) for a session to end; the last one by default."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.sessions and len(self.sessions) > (index if index >= 0 else 0):
                s = self.sessions[index]
                if s.done.wait(max(0.0, end - time.monotonic())):
                    return s
            time.sleep(0.01)
        return None

    def deliver(self, call: Call, ev: LineEvent) -> None:
        self._inbox.put(("ev", (call, ev)))

    def close(self) -> None:
        if self._stop:
            return
        self._stop = True
        self._inbox.put(("stop", None))
        self._thread.join(timeout=5)
        if self._bridge is not None:
            self._bridge.close()
            self._bridge = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("sim: spandsp remote crashed", extra={"remote": self.name})

    def _loop(self) -> None:
        clock = self.clock
        part = clock.participant(self.name)
        try:
            while not self._stop:
                now = clock.beat(part, active=self._bridge is not None)
                if self._bridge is not None:
                    timeout = clock.poll_interval(
                        max(0.0005, clock.wall(STEP_SAMPLES / SAMPLE_RATE)))
                elif self._answer_at is not None or self._give_up_at is not None:
                    due = min(t for t in (self._answer_at, self._give_up_at) if t is not None)
                    timeout = max(0.001, min(0.2, clock.wall(due - now)))
                else:
                    timeout = 0.2
                try:
                    items = [self._inbox.get(timeout=timeout)]
                    while True:
                        try:
                            items.append(self._inbox.get_nowait())
                        except queue.Empty:
                            break
                except queue.Empty:
                    items = []
                clock.beat(part)
                for tag, item in items:
                    if tag == "stop":
                        return
                    if tag == "send":
                        self._start_send(*item)
                    elif tag == "ev":
                        self._event(*item)
                now = clock.beat(part)
                if self._give_up_at is not None and now >= self._give_up_at:
                    self._give_up_at = None
                    self._no_answer()
                if self._answer_at is not None and now >= self._answer_at:
                    self._answer_at = None
                    self._answer()
                b = self._bridge
                if b is not None:
                    b.advance(now - self._t0)
                    self._flush()
                    if b.phase_e is not None:
                        self._finish(by_us=True)
        finally:
            clock.release(part)

    def _flush(self) -> None:
        b = self._bridge
        call = self._active
        if b is None:
            return
        evs = b.take_events()
        if call is not None and call.state == "connected":
            for ev in evs:
                self.exchange.relay(call, self, ev)

    def _start_send(self, number: str, tiff: str, sess: FaxSession) -> None:
        self.sessions.append(sess)
        if self._active is not None or self.call is not None:
            sess.dial_result = "BUSY"
            sess.done.set()
            return
        res = self.exchange.place_call(self, number)
        if isinstance(res, str):
            sess.dial_result = res
            sess.ended = self.clock.now()
            sess.done.set()
            return
        self._active = res
        self._session = sess
        self._pending_tx = (number, tiff)
        self._give_up_at = self.clock.now() + self.ring_timeout

    def _event(self, call: Call, ev: LineEvent) -> None:
        if isinstance(ev, CallOffered):
            if self._active is None and self._session is None:
                self._active = call
                self._answer_at = self.clock.now() + self.answer_after
            return
        if call is not self._active:
            return
        if isinstance(ev, CallAnswered):
            self._give_up_at = None
            assert self._pending_tx is not None
            _, tiff = self._pending_tx
            self._pending_tx = None
            self._start_bridge(calling=True, tx_file=tiff)
            return
        if isinstance(ev, CallCleared):
            self._answer_at = None
            self._give_up_at = None
            self._finish(by_us=False, reason=ev.reason)
            return
        if self._bridge is not None:
            self._bridge.advance(self.clock.now() - self._t0)
            self._bridge.feed(ev)
            self._flush()

    def _no_answer(self) -> None:
        call, sess = self._active, self._session
        if call is None or sess is None or self._bridge is not None:
            return
        self._pending_tx = None
        sess.dial_result = "NO ANSWER"
        self._finish(by_us=True, reason="no answer")

    def _answer(self) -> None:
        call = self._active
        if call is None:
            return
        sess = FaxSession("rx", call.caller.number, self.clock.now())
        sess.tiff = self.workdir / f"rx-{call.id:04d}.tif"
        self.sessions.append(sess)
        self._session = sess
        if not self.exchange.answer(call, self):
            self._finish(by_us=False, reason="cancelled")
            return
        self._start_bridge(calling=False, rx_file=str(sess.tiff))

    def _start_bridge(self, calling: bool, tx_file: str | None = None,
                      rx_file: str | None = None) -> None:
        self._t0 = self.clock.now()
        self._bridge = T38Bridge(calling, self.ident, self.ecm, tx_file=tx_file, rx_file=rx_file,
                                 supported_modems=self._modem_mask,
                                 compressions=self._compression_mask)
        log.info(
            "sim: spandsp remote in call",
            extra={"remote": self.name, "calling": calling, "ecm": self.ecm},
        )

    def _finish(self, by_us: bool, reason: str = "") -> None:
        b, sess, call = self._bridge, self._session, self._active
        self._bridge = None
        self._session = None
        self._active = None
        now = self.clock.now()
        if b is not None:
            if b.phase_e is None:
                b.terminate()
            st = b.stats()
            if sess is not None:
                sess.completion = b.phase_e
                sess.completion_text = (
                    completion_text(b.phase_e) if b.phase_e is not None else reason
                )
                sess.remote_ident = b.remote_ident()
                sess.bit_rate = st.bit_rate
                sess.ecm = bool(st.error_correcting_mode)
                sess.pages = st.pages_rx if sess.direction == "rx" else st.pages_tx
                sess.page_results = list(b.page_results)
            b.close()
        if sess is not None:
            if b is None and not sess.completion_text:
                sess.completion_text = reason or "not connected"
            sess.ended = now
            log.info(
                "sim: spandsp session ended",
                extra={"remote": self.name, "completion": sess.completion,
                       "text": sess.completion_text, "pages": sess.pages},
            )
            sess.done.set()
        if by_us and call is not None:
            self.exchange.hangup(call, self)


def tiff_pages(path: str | os.PathLike[str]) -> int:
    """Number of pages in a TIFF (0 if it does not exist)."""
    if not os.path.exists(path):
        return 0
    from PIL import Image

    with contextlib.suppress(Exception), Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))
    return 0
