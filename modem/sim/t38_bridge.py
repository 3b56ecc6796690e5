"""The T.38 bridge: one spandsp T.38 terminal and the conversion to/from line events.

spandsp's ``t38_terminal`` is a complete T.30 endpoint that talks T.38 IFP
packets.  T.38 indicators and data fields map one to one onto our line events
(:mod:`modem.sim.line`), which map one to one onto Class 1's +FTH/+FRH/+FTM/+FRM.

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

import ctypes
from typing import Any

from modem.sim.errors import SpandspUnavailable
from modem.sim.line import (
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
from modem.sim.spandsp_lib import (
    CAT_CONTROL_DATA,
    CAT_CONTROL_DATA_END,
    CAT_IMAGE_DATA,
    CAT_IMAGE_DATA_END,
    F_HDLC_DATA,
    F_HDLC_FCS_BAD,
    F_HDLC_FCS_BAD_SIG_END,
    F_HDLC_FCS_OK,
    F_HDLC_FCS_OK_SIG_END,
    F_HDLC_SIG_END,
    F_NON_ECM_DATA,
    F_NON_ECM_SIG_END,
    IND_CED,
    IND_CNG,
    IND_NO_SIGNAL,
    IND_TO_MOD,
    IND_V21_PREAMBLE,
    MOD_TO_DATA,
    MOD_TO_IND,
    PHASE_D,
    PHASE_E,
    RX_DATA,
    RX_IND,
    RX_MISSING,
    SAMPLE_RATE,
    STEP_SAMPLES,
    SUPPORT_T4_1D_T4_2D_T6,
    SUPPORT_V27TER_V29_V17,
    TRANSFERRED_TCF,
    TX_HANDLER,
    T30Stats,
    c_buffer,
    load_spandsp,
)


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
        self._cb_term_tx = TX_HANDLER(self._from_terminal)
        self._cb_core_tx = TX_HANDLER(self._to_terminal)
        self._cb_ind = RX_IND(self._on_indicator)
        self._cb_data = RX_DATA(self._on_data)
        self._cb_missing = RX_MISSING(lambda *_: 0)
        self._cb_e = PHASE_E(self._on_phase_e)
        self._cb_d = PHASE_D(self._on_phase_d)
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
        self._lib.t38_core_rx_ifp_packet(self.core, c_buffer(data), length, self._seq_from_term)
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
        self._lib.t38_core_rx_ifp_packet(self.term_core, c_buffer(data), length, self._seq_to_term)
        return 0

    def _send_data(self, ftype: int, data: bytes, category: int) -> None:
        mod = self._rx_mod if self._rx_mod is not None else 3
        rev = bit_reverse(data)
        self._lib.t38_core_send_data(
            self.core, MOD_TO_DATA.get(mod, 0), ftype, c_buffer(rev), len(rev), category
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



__all__ = ["T38Bridge"]
