"""T.31 transmit and receive of the simulated Class 1 modem: +FTH/+FTM/+FTS and
+FRH/+FRM/+FRS, DLE transparency, data paced at the line rate, +FCERROR (see
:mod:`modem.sim.class1_dce`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from modem.hdlc import fcs_bytes
from modem.sim.dce_base import (
    CHUNK_S,
    DLE,
    ETX,
    RX_WAIT_S,
    SUB,
    DCEBase,
    State,
)
from modem.sim.line import (
    V21_PREAMBLE_S,
    CarrierOff,
    CarrierOn,
    Data,
    HdlcFrame,
    LineEvent,
    Tone,
    bit_rate,
    compatible,
    training_time,
)

log = logging.getLogger(__name__)


class T31DataDCE(DCEBase):
    """The modem's high-speed and HDLC data, both ways."""

    # --- transmit ---------------------------------------------------------------------------

    def _start_tx(self, mod: int) -> None:
        self._rxq.clear()
        self._rx_cur = None
        start = max(self._now, self._tx_free)
        if self._tx_mod != mod:
            if self._tx_mod:
                self._line(CarrierOff())
            self._line(CarrierOn(mod))
            self._tx_free = start + (V21_PREAMBLE_S if mod == 3 else training_time(mod))
        self._tx_mod = mod
        self._tx_frame.clear()
        self._dle = False

    def _cmd_fth(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._start_tx(mod)
        self.state = State.TX_HDLC
        self._result("CONNECT")

    def _cmd_ftm(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._start_tx(mod)
        self.state = State.TX_DATA
        self._result("CONNECT")

    def _tx_bytes(self, data: bytes, i: int) -> int:
        """Consume DTE data from ``data[i:]`` while transmitting; returns the next index."""
        n = len(data)
        while i < n and self.state in (State.TX_HDLC, State.TX_DATA):
            if self._dle:
                self._dle = False
                b = data[i]
                i += 1
                if b == ETX:
                    self._tx_end()
                elif b == DLE:
                    self._tx_octets(b"\x10")
                elif b == SUB:
                    self._tx_octets(b"\x10\x10")
                continue  # other DLE pairs are discarded
            j = data.find(b"\x10", i)
            if j < 0:
                self._tx_octets(data[i:])
                return n
            if j > i:
                self._tx_octets(data[i:j])
            self._dle = True
            i = j + 1
        return i

    def _tx_octets(self, data: bytes) -> None:
        if self.state == State.TX_HDLC:
            if len(self._tx_frame) < 512:
                self._tx_frame.extend(data[: 512 - len(self._tx_frame)])
            return
        # High-speed data: queued on the line clock in ~50 ms chunks.
        self._tx_frame.extend(data)
        if len(self._tx_frame) >= self._chunk():
            self._flush_data(whole_chunks=True)

    def _chunk(self) -> int:
        return max(16, int(bit_rate(self._tx_mod) * CHUNK_S / 8))

    def _flush_data(self, whole_chunks: bool = False) -> None:
        size = self._chunk()
        rate = bit_rate(self._tx_mod)
        while len(self._tx_frame) >= (size if whole_chunks else 1):
            data = bytes(self._tx_frame[:size])
            del self._tx_frame[:size]
            start = max(self._now, self._tx_free)
            self._tx_free = start + len(data) * 8 / rate
            self._at(self._tx_free, self._emitter(Data(data)))

    def _emitter(self, ev: LineEvent) -> Callable[[], None]:
        return lambda: self._line(ev)

    def _tx_end(self) -> None:
        if self.state == State.TX_HDLC:
            frame = bytes(self._tx_frame)
            self._tx_frame.clear()
            if not frame:
                self._finish_tx("OK")
                return
            start = max(self._now, self._tx_free)
            self._tx_free = start + (len(frame) + 3) * 8 / 300
            self._at(self._tx_free, lambda: self._line(HdlcFrame(frame)))
            if len(frame) >= 2 and frame[1] & 0x10:
                self._finish_tx("OK")
            else:
                self._result("CONNECT")
            return
        self._flush_data()
        self._finish_tx("OK")

    def _finish_tx(self, code: str) -> None:
        self.state = State.TX_WAIT
        end = max(self._now, self._tx_free)

        def done() -> None:
            if self.state != State.TX_WAIT:
                return
            if self._tx_mod:
                self._line(CarrierOff())
            self._tx_mod = 0
            self._final(code)

        self._at(end, done)

    def _cmd_fts(self, n: int) -> None:
        self.state = State.TX_WAIT
        end = max(self._now, self._tx_free)
        mod_off = bool(self._tx_mod)

        def done() -> None:
            if self.state == State.TX_WAIT:
                self._final("OK")

        if mod_off:
            self._at(end, self._carrier_off_now)
        self._at(end + n * 0.01, done)

    def _carrier_off_now(self) -> None:
        if self._tx_mod:
            self._line(CarrierOff())
            self._tx_mod = 0

    # --- receive ----------------------------------------------------------------------------

    def _cmd_frh(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._carrier_off_now()
        self._rx_mod = mod
        self.state = State.RX_WAIT_HDLC
        self._rx_deadline()

    def _cmd_frm(self, mod: int) -> None:
        if not self.in_call:
            self._final("ERROR")
            return
        self._carrier_off_now()
        self._rx_mod = mod
        self.state = State.RX_WAIT_DATA
        self._rx_deadline()

    def _rx_deadline(self) -> None:
        st = self.state
        token = object()
        self._rx_token = token

        def expire() -> None:
            if self.state == st and self._rx_token is token:
                self._final("NO CARRIER")

        self._at(self._now + RX_WAIT_S, expire)

    _rx_token: object = None

    def _cmd_frs(self, n: int) -> None:
        self.state = State.RX_SILENCE
        self._carrier_off_now()

        def done() -> None:
            if self.state == State.RX_SILENCE:
                if self._line_carrier:
                    self._at(self._now + n * 0.01, done)
                else:
                    self._final("OK")

        self._at(self._now + n * 0.01, done)

    def _abort_rx(self) -> None:
        st = self.state
        if st == State.DIALING:
            self._hangup()
            self._final("NO CARRIER")
            return
        if st == State.ANSWERING:
            self._hangup()
            self._final("NO CARRIER")
            return
        if st == State.RX_DATA:
            self._send(bytes((DLE, ETX)))
        self._rx_token = None
        self._final("OK")

    def _service_rx(self) -> None:
        q = self._rxq
        while q:
            st = self.state
            ev = q[0]
            if st in (State.CMD, State.TX_HDLC, State.TX_DATA, State.TX_WAIT, State.OFFLINE):
                return
            if isinstance(ev, Tone):
                q.popleft()
                continue
            if st == State.RX_SILENCE:
                return
            if st in (State.DIALING, State.RX_WAIT_HDLC):
                if st == State.DIALING and not self._answered_flag:
                    q.popleft()
                    continue
                if isinstance(ev, CarrierOn):
                    q.popleft()
                    self._rx_cur = ev.mod
                    if ev.mod == 3:
                        if st == State.DIALING:
                            self._clear_timers()
                        self.state = State.RX_HDLC
                        self._rx_mod = 3
                        self._result("CONNECT")
                    continue
                if isinstance(ev, HdlcFrame) and self._rx_cur == 3:
                    if st == State.DIALING:
                        self._clear_timers()
                    self.state = State.RX_HDLC
                    self._rx_mod = 3
                    self._result("CONNECT")
                    continue
                q.popleft()  # CarrierOff, or data of a carrier we cannot hear
                if isinstance(ev, CarrierOff):
                    self._rx_cur = None
                continue
            if st == State.RX_HDLC:
                q.popleft()
                if isinstance(ev, HdlcFrame):
                    self._deliver_frame(ev)
                elif isinstance(ev, CarrierOff):
                    self._rx_cur = None
                    self._final("NO CARRIER")
                elif isinstance(ev, CarrierOn):
                    self._rx_cur = ev.mod
                continue
            if st == State.RX_WAIT_DATA:
                if isinstance(ev, CarrierOn):
                    if ev.mod == 3:
                        self._final("+FCERROR")
                        return
                    q.popleft()
                    self._rx_cur = ev.mod
                    if compatible(ev.mod, self._rx_mod):
                        self.state = State.RX_DATA
                        self._result("CONNECT")
                    else:
                        self._discard_carrier()
                        self._final("+FCERROR")
                    continue
                if isinstance(ev, HdlcFrame):
                    self._final("+FCERROR")
                    return
                if isinstance(ev, Data) and self._rx_cur and compatible(self._rx_cur, self._rx_mod):
                    self.state = State.RX_DATA
                    self._result("CONNECT")
                    continue
                q.popleft()
                if isinstance(ev, CarrierOff):
                    self._rx_cur = None
                continue
            if st == State.RX_DATA:
                q.popleft()
                if isinstance(ev, Data):
                    self._send(ev.data.replace(b"\x10", b"\x10\x10"))
                elif isinstance(ev, CarrierOff):
                    self._rx_cur = None
                    self._send(bytes((DLE, ETX)))
                    self._final("NO CARRIER")
                continue
            return

    def _discard_carrier(self) -> None:
        """Drop the rest of the current incoming carrier (queued or still to come)."""
        q = self._rxq
        while q:
            ev = q.popleft()
            if isinstance(ev, CarrierOff):
                self._rx_cur = None
                return
        self._rx_discard = True

    def _deliver_frame(self, ev: HdlcFrame) -> None:
        body = ev.data + fcs_bytes(ev.data)
        if not ev.fcs_ok:
            body = ev.data + bytes(b ^ 0xFF for b in fcs_bytes(ev.data))
        self._send(body.replace(b"\x10", b"\x10\x10") + bytes((DLE, ETX)))
        self._rx_token = None
        self._final("OK" if ev.fcs_ok else "ERROR")
