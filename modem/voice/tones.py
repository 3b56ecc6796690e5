"""spandsp's modem connect tone detectors (``modem_connect_tones_rx_*`` in libspandsp2)
through ctypes: is the caller a fax machine (CNG, or a V.21 HDLC preamble), a data modem
(answer tone 2100/2225 Hz, V.25 calling tone 1300 Hz), or neither?

:class:`ToneDetector` holds one spandsp detector per tone family and is fed 16-bit
samples; :meth:`ToneDetector.feed` returns the tones whose start was reported in them.
It does no I/O and keeps no time; spandsp's callbacks run inside :meth:`feed` and only
append to a list.  One instance per call; not thread-safe.
"""

from __future__ import annotations

import ctypes
import enum
from typing import Any

from modem.errors import ModemError
from modem.spandsp_handle import Signatures, SpandspHandle

SAMPLE_OCTETS = 2


class ToneError(ModemError):
    """libspandsp2 is missing, or a tone detector could not be set up."""


class Tone(enum.IntEnum):
    """spandsp/modem_connect_tones.h: what a detector reports (NONE: a tone stopped)."""

    NONE = 0
    FAX_CNG = 1  # 1100 Hz, 0.5 s on / 3 s off: a calling fax machine
    ANS = 2  # 2100 Hz (also a fax's CED)
    ANS_PR = 3
    ANSAM = 4
    ANSAM_PR = 5
    FAX_PREAMBLE = 6  # V.21 channel 2 HDLC flags: a fax machine's T.30 frames
    FAX_CED_OR_PREAMBLE = 7  # (a detector type only: reports ANS or FAX_PREAMBLE)
    BELL_ANS = 8  # 2225 Hz
    CALLING_TONE = 9  # 1300 Hz: a calling data modem (V.25)


#: The tones that say "a fax machine"; the ones that say "a data modem".
FAX_TONES = frozenset({Tone.FAX_CNG, Tone.FAX_PREAMBLE})
DATA_TONES = frozenset({Tone.ANS, Tone.ANS_PR, Tone.ANSAM, Tone.ANSAM_PR, Tone.BELL_ANS, Tone.CALLING_TONE})
#: The detector types run side by side (each spandsp detector looks for one family).
DETECTORS = (Tone.FAX_CNG, Tone.FAX_CED_OR_PREAMBLE, Tone.ANSAM, Tone.BELL_ANS, Tone.CALLING_TONE)

_TONE_REPORT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int)

def _signatures() -> Signatures:
    vp, i = ctypes.c_void_p, ctypes.c_int
    amp = ctypes.POINTER(ctypes.c_int16)
    return {
        "modem_connect_tones_rx_init": (vp, [vp, i, _TONE_REPORT, vp]),
        "modem_connect_tones_rx": (i, [vp, amp, i]),
        "modem_connect_tones_rx_get": (i, [vp]),
        "modem_connect_tones_rx_free": (i, [vp]),
        "modem_connect_tones_tx_init": (vp, [vp, i]),
        "modem_connect_tones_tx": (i, [vp, amp, i]),
        "modem_connect_tones_tx_free": (i, [vp]),
    }


_HANDLE = SpandspHandle(_signatures, ToneError)


def load_tones() -> Any:
    """libspandsp2 with the connect-tone prototypes declared (its own ctypes handle)."""
    return _HANDLE.get()


def tones_available() -> bool:
    try:
        load_tones()
    except ToneError:
        return False
    return True


class ToneDetector:
    """spandsp's detectors for fax (CNG, V.21 preamble) and data-modem tones, fed int16
    audio; :meth:`feed` returns the tones newly detected in that audio, in order."""

    def __init__(self) -> None:
        self._lib = load_tones()
        self._found: list[Tone] = []
        self._report_cb = _TONE_REPORT(self._report)  # spandsp keeps the pointer
        self._states: list[int] = []
        for kind in DETECTORS:
            state = self._lib.modem_connect_tones_rx_init(None, int(kind), self._report_cb, None)
            if not state:
                self.close()
                raise ToneError(f"modem_connect_tones_rx_init({kind.name}) failed")
            self._states.append(state)
        self._buf = (ctypes.c_int16 * 0)()

    def _report(self, _user: Any, code: int, _level: int, _delay: int) -> None:
        try:
            tone = Tone(code)
        except ValueError:
            return
        if tone is not Tone.NONE:
            self._found.append(tone)

    def feed(self, audio: bytes) -> list[Tone]:
        """Feed native int16 samples; the tones whose detection they completed."""
        count = len(audio) // SAMPLE_OCTETS
        if count:
            if len(self._buf) < count:
                self._buf = (ctypes.c_int16 * count)()
            ctypes.memmove(self._buf, audio, count * SAMPLE_OCTETS)
            for state in self._states:
                self._lib.modem_connect_tones_rx(state, self._buf, count)
        found, self._found = self._found, []
        return found

    def close(self) -> None:
        for state in self._states:
            self._lib.modem_connect_tones_rx_free(state)
        self._states = []


def connect_tone(kind: Tone, samples: int) -> bytes:
    """``samples`` of spandsp's own generator for ``kind`` (CNG, ANS, ANSam, calling tone
    ...) as native int16 octets: for tests and self-checks."""
    lib = load_tones()
    state = lib.modem_connect_tones_tx_init(None, int(kind))
    if not state:
        raise ToneError(f"modem_connect_tones_tx_init({kind.name}) failed")
    try:
        buf = (ctypes.c_int16 * samples)()
        made = max(0, int(lib.modem_connect_tones_tx(state, buf, samples)))
        return ctypes.string_at(buf, SAMPLE_OCTETS * made) + bytes(SAMPLE_OCTETS * (samples - made))
    finally:
        lib.modem_connect_tones_tx_free(state)


__all__ = ["DATA_TONES", "FAX_TONES", "Tone", "ToneDetector", "ToneError", "connect_tone", "load_tones",
           "tones_available"]
