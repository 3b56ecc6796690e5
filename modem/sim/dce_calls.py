"""Call control of the simulated Class 1 modem: dialling, ringing with caller ID,
answering (adaptive answer too) and the far end clearing (see :mod:`modem.sim.class1_dce`)."""

from __future__ import annotations

import logging

from modem.sim.dce_base import (
    CED_S,
    DLE,
    ETX,
    RING_PERIOD_S,
    SILENCE_S,
    AnswerRequest,
    DialRequest,
    State,
)
from modem.sim.dce_t31 import (
    T31DataDCE,
)
from modem.sim.line import (
    CallCleared,
    CallOffered,
    CarrierOff,
    Tone,
)

log = logging.getLogger(__name__)


class CallControlDCE(T31DataDCE):
    """The modem's side of a call's set-up and clearing."""

    # --- call control -----------------------------------------------------------------------

    def _cmd_dial(self, dial: str) -> None:
        number = "".join(ch for ch in dial if ch.isdigit() or ch in "+*#")
        if self.in_call:
            self._result("ERROR")
            return
        self.state = State.DIALING
        self._rxq.clear()
        if self.no_dialtone:
            self._at(self._now + self.s[6] + 1.0, lambda: self._final("NO DIALTONE"))
            return
        self.in_call = True
        dial_time = 0.5 + 0.1 * len(number)
        self._at(self._now + dial_time, lambda: self._dial_now(number))
        self._at(self._now + self.s[7], self._no_answer)

    def _dial_now(self, number: str) -> None:
        if self.state != State.DIALING:
            return
        self._actions.append(DialRequest(number, data=self.fclass == "0"))
        if self.fclass != "0":
            self._line(Tone("cng"))

    def _no_answer(self) -> None:
        if self.state != State.DIALING:
            return
        answered = self._answered_flag
        self._hangup()
        self._final("NO CARRIER" if answered else "NO ANSWER")

    def _answered(self) -> None:
        if self.state != State.DIALING:
            return
        self._answered_flag = True
        if self.fclass == "0":
            self._hangup()
            self._at(self._now + 2.0, lambda: self._final("NO CARRIER"))

    def _incoming(self, ev: CallOffered) -> None:
        if self.in_call:
            return
        self.ringing = ev
        self._rings = 0
        self._ring()

    def _ring(self) -> None:
        if self.ringing is None or self.in_call:
            return
        self._rings += 1
        self.s[1] = self._rings
        if self.state == State.CMD:
            self._result("RING")
            if self._rings == 1 and not self.quiet:
                ev = self.ringing
                self._info(f"NMBR = {ev.caller or 'P'}")
                if ev.caller_name:
                    self._info(f"NAME = {ev.caller_name}")
                self._info(f"NDID = {ev.called}")
            if self.s[0] and self._rings >= self.s[0]:
                self._cmd_answer()
                return
        self._at(self._now + RING_PERIOD_S, self._ring)

    def _cmd_answer(self) -> None:
        if self.ringing is None or self.in_call:
            self.state = State.ANSWERING
            self._at(self._now + 2.0, lambda: self._final("NO CARRIER"))
            return
        offered = self.ringing
        self.ringing = None
        self._clear_timers()
        self.in_call = True
        self._rxq.clear()
        self._actions.append(AnswerRequest())
        if self.adaptive and self.fclass != "0":
            # T.31 +FAE=1: say what called; a data call connects as data (+FCLASS=0)
            if offered.data:
                self._info("DATA")
                self.fclass = "0"
                self.state = State.OFFLINE
                self._result("CONNECT")
                self._at(self._now + 5.0, self._drop_data_call)
                return
            self._info("FAX")
        if self.fclass == "0":
            self.state = State.OFFLINE
            self._at(self._now + 5.0, self._drop_data_call)
            return
        self.state = State.ANSWERING
        self._line(Tone("ced"))
        t = self._now + CED_S
        self._at(t, lambda: self._line(CarrierOff()))
        self._at(t + SILENCE_S, self._answer_flags)

    def _drop_data_call(self) -> None:
        self._hangup()
        self._final("NO CARRIER")

    def _answer_flags(self) -> None:
        if self.state != State.ANSWERING:
            return
        self._start_tx(3)
        self.state = State.TX_HDLC
        self._result("CONNECT")

    def _cleared(self, ev: CallCleared) -> None:
        if self.ringing is not None and not self.in_call:
            self.ringing = None
            self._clear_timers()
            return
        if not self.in_call:
            return
        st = self.state
        self._clear_timers()
        self.in_call = False
        self._answered_flag = False
        self._rxq.clear()
        self._rx_cur = None
        self._rx_discard = False
        self._tx_mod = 0
        self._held.clear()
        if st == State.RX_DATA:
            self._send(bytes((DLE, ETX)))
        if st != State.CMD:
            self._final("NO CARRIER")

