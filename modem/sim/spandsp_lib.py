"""The ctypes binding of libspandsp2: the T.38 terminal, T.38 core and T.30 calls the
simulator's remote fax machines use, with spandsp's constants (t38_core.h, t30.h).

:func:`load_spandsp` loads the library once and declares every prototype used.
"""

from __future__ import annotations

import ctypes
from typing import Any

from modem.sim.errors import SpandspUnavailable
from modem.spandsp_handle import Signatures, SpandspHandle

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


def capability_mask(names: tuple[str, ...], bits: dict[str, int], what: str) -> int:
    unknown = set(names) - set(bits)
    if unknown or not names:
        raise ValueError(f"{what} must be some of {sorted(bits)}, not {names!r}")
    return sum(bits[n] for n in set(names))
STEP_SAMPLES = 160  # 20 ms at 8 kHz
SAMPLE_RATE = 8000

TX_HANDLER = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_int,
    ctypes.c_int,
)
RX_IND = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
RX_DATA = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
    ctypes.POINTER(ctypes.c_uint8), ctypes.c_int,
)
RX_MISSING = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                               ctypes.c_int)
PHASE_E = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
PHASE_D = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)


class T30Stats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in (
        "bit_rate", "error_correcting_mode", "pages_tx", "pages_rx", "pages_in_file",
        "x_resolution", "y_resolution", "width", "length", "image_size", "encoding", "bad_rows",
        "longest_bad_row_run", "error_correcting_mode_retries", "current_status",
    )] + [("_spare", ctypes.c_int * 16)]


def _signatures() -> Signatures:
    vp, i, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    return {
        "t38_terminal_init": (vp, [vp, i, TX_HANDLER, vp]),
        "t38_terminal_free": (i, [vp]),
        "t38_terminal_send_timeout": (i, [vp, i]),
        "t38_terminal_set_config": (None, [vp, i]),
        "t38_terminal_set_tep_mode": (None, [vp, i]),
        "t38_terminal_get_t30_state": (vp, [vp]),
        "t38_terminal_get_t38_core_state": (vp, [vp]),
        "t38_core_init": (vp, [vp, RX_IND, RX_DATA, RX_MISSING, vp, TX_HANDLER, vp]),
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
        "t30_set_phase_e_handler": (None, [vp, PHASE_E, vp]),
        "t30_set_phase_d_handler": (None, [vp, PHASE_D, vp]),
        "t30_get_transfer_statistics": (None, [vp, ctypes.POINTER(T30Stats)]),
        "t30_completion_code_to_str": (cp, [i]),
        "t30_terminate": (None, [vp]),
    }


_HANDLE = SpandspHandle(_signatures, SpandspUnavailable)


def load_spandsp() -> Any:
    """The spandsp shared library with the prototypes we use declared."""
    return _HANDLE.get()


def spandsp_available() -> bool:
    try:
        load_spandsp()
    except SpandspUnavailable:
        return False
    return True


def c_buffer(data: bytes) -> Any:
    """A C array holding ``data`` (one zero octet when empty: ctypes wants a buffer)."""
    return (ctypes.c_uint8 * max(1, len(data))).from_buffer_copy(data or b"\0")


def completion_text(code: int) -> str:
    """spandsp's text for a T30_ERR_* completion code."""
    r = load_spandsp().t30_completion_code_to_str(code)
    return r.decode() if r else str(code)

