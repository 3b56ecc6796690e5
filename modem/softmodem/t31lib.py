"""spandsp's T.31 soft modem (``t31_*`` in libspandsp2) through ctypes: a Class 1 fax
modem whose line side is 8 kHz 16-bit audio and whose DTE side is the AT byte stream.

:class:`SpandspT31` holds one ``t31_state_t``.  It does no I/O and keeps no time of its
own: the owner feeds it the DTE's octets (:meth:`at_rx`), received audio (:meth:`rx`,
:meth:`rx_fillin`), asks for audio to send (:meth:`tx`), tells it about the call
(:meth:`call_event`), and after each call takes what the modem said to the DTE
(:meth:`take_dte_output`) and the line controls it asked for (:meth:`take_controls`:
dial, answer, hang up, clear-to-send).  spandsp's callbacks run inside those calls, on
the owner's thread, and only append to lists.  One instance per call; not thread-safe.
"""

from __future__ import annotations

import ctypes
import enum
from dataclasses import dataclass
from typing import Any

from modem.errors import ModemError
from modem.spandsp_handle import Signatures, SpandspHandle

SAMPLE_OCTETS = 2


class SoftModemError(ModemError):
    """libspandsp2 is missing, or its T.31 modem could not be set up."""


class CallEvent(enum.IntEnum):
    """``at_call_event_e`` (spandsp/at_interpreter.h): what the line tells the modem."""

    ALERTING = 1
    CONNECTED = 2  # our dialled call was answered
    ANSWERED = 3  # we answered an incoming call
    BUSY = 4
    NO_DIALTONE = 5
    NO_ANSWER = 6
    HANGUP = 7  # the far end hung up: the DTE hears NO CARRIER


class ControlOp(enum.IntEnum):
    """``at_modem_control_operation_e``: what the modem asks of the line."""

    CALL = 0
    ANSWER = 1
    HANGUP = 2
    OFFHOOK = 3
    ONHOOK = 4
    DTR = 5
    RTS = 6
    CTS = 7  # flow control towards the DTE: 0 = stop sending, 1 = go on
    CAR = 8
    RNG = 9
    DSR = 10
    SETID = 11
    RESTART = 12
    DTE_TIMEOUT = 13


@dataclass(frozen=True, slots=True)
class Control:
    op: ControlOp
    number: str = ""  # the dialled number (CALL)
    value: int = 0  # the raw argument as a number (CTS: 0 or 1)


_AT_TX = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8),
                          ctypes.c_size_t)
_MODEM_CONTROL = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                  ctypes.c_void_p)

def _signatures() -> Signatures:
    vp, i = ctypes.c_void_p, ctypes.c_int
    amp = ctypes.POINTER(ctypes.c_int16)
    return {
        "t31_init": (vp, [vp, _AT_TX, vp, _MODEM_CONTROL, vp, vp, vp]),
        "t31_free": (i, [vp]),
        "t31_at_rx": (i, [vp, ctypes.c_char_p, i]),
        "t31_rx": (i, [vp, amp, i]),
        "t31_rx_fillin": (i, [vp, i]),
        "t31_tx": (i, [vp, amp, i]),
        "t31_call_event": (None, [vp, i]),
        "t31_set_transmit_on_idle": (None, [vp, i]),
        "t31_set_tep_mode": (None, [vp, i]),
        "t31_set_mode": (None, [vp, i]),
    }


_HANDLE = SpandspHandle(_signatures, SoftModemError)


def load_t31() -> Any:
    """libspandsp2 with the T.31 prototypes declared (its own ctypes handle, so other
    bindings of the same library keep theirs)."""
    return _HANDLE.get()


def t31_available() -> bool:
    try:
        load_t31()
    except SoftModemError:
        return False
    return True


class SpandspT31:
    """One spandsp T.31 modem in audio mode (not T.38), transmitting silence when idle."""

    def __init__(self) -> None:
        self._lib = load_t31()
        self._dte_out = bytearray()
        self._controls: list[Control] = []
        # spandsp keeps these pointers: they live as long as the state
        self._at_tx_cb = _AT_TX(self._at_tx)
        self._control_cb = _MODEM_CONTROL(self._modem_control)
        state = self._lib.t31_init(None, self._at_tx_cb, None, self._control_cb, None, None, None)
        if not state:
            raise SoftModemError("t31_init failed")
        self._state: int | None = state
        self._lib.t31_set_mode(state, 0)  # audio, not T.38
        self._lib.t31_set_transmit_on_idle(state, 1)
        self._lib.t31_set_tep_mode(state, 0)
        self._rx_buf = (ctypes.c_int16 * 0)()
        self._tx_buf = (ctypes.c_int16 * 0)()

    # --- spandsp callbacks (run inside the calls below) ----------------------------------
    def _at_tx(self, _at: Any, _user: Any, buf: Any, length: int) -> int:
        self._dte_out += ctypes.string_at(buf, length)
        return length

    def _modem_control(self, _t31: Any, _user: Any, op: int, num: int | None) -> int:
        try:
            kind = ControlOp(op)
        except ValueError:
            return 0
        number = ""
        if kind in (ControlOp.CALL, ControlOp.SETID) and num:
            number = (ctypes.string_at(num) or b"").decode("ascii", "replace")
        self._controls.append(Control(kind, number, int(num or 0) if kind is not ControlOp.CALL else 0))
        return 0

    # --- the owner's side -----------------------------------------------------------------
    @property
    def state(self) -> int:
        if self._state is None:
            raise SoftModemError("the T.31 modem is closed")
        return self._state

    def at_rx(self, data: bytes) -> None:
        """Octets from the DTE (commands, or data after CONNECT)."""
        if data:
            self._lib.t31_at_rx(self.state, data, len(data))

    def rx(self, audio: bytes) -> None:
        """Received line audio: native int16 samples."""
        count = len(audio) // SAMPLE_OCTETS
        if len(self._rx_buf) < count:
            self._rx_buf = (ctypes.c_int16 * count)()
        ctypes.memmove(self._rx_buf, audio, count * SAMPLE_OCTETS)
        self._lib.t31_rx(self.state, self._rx_buf, count)

    def rx_fillin(self, samples: int) -> None:
        """``samples`` of received audio lost in the network (the demodulator keeps time)."""
        self._lib.t31_rx_fillin(self.state, samples)

    def tx(self, samples: int) -> bytes:
        """``samples`` of line audio to send (silence where the modem has nothing)."""
        if len(self._tx_buf) < samples:
            self._tx_buf = (ctypes.c_int16 * samples)()
        made = int(self._lib.t31_tx(self.state, self._tx_buf, samples))
        if made < samples:
            ctypes.memset(ctypes.byref(self._tx_buf, SAMPLE_OCTETS * made), 0,
                          SAMPLE_OCTETS * (samples - made))
        return ctypes.string_at(self._tx_buf, SAMPLE_OCTETS * samples)

    def call_event(self, event: CallEvent) -> None:
        self._lib.t31_call_event(self.state, int(event))

    def take_dte_output(self) -> bytes:
        out = bytes(self._dte_out)
        self._dte_out.clear()
        return out

    def take_controls(self) -> list[Control]:
        out, self._controls = self._controls, []
        return out

    def close(self) -> None:
        if self._state is not None:
            self._lib.t31_free(self._state)
            self._state = None


__all__ = ["CallEvent", "Control", "ControlOp", "SoftModemError", "SpandspT31", "load_t31", "t31_available"]
