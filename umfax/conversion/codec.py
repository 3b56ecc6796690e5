"""MH / MR / MMR (ITU-T T.4 / T.6) coding through the system libtiff (ctypes).

libtiff's CCITT codec is used as a coding engine only: a bitmap goes in as one
uncompressed strip, the coded strip comes out; umfax writes its own TIFF containers.
Bitmaps are packed rows, most significant bit first, a set bit is black (the fax
convention, TIFF PhotometricInterpretation=min-is-white, FillOrder=1).

Files are exchanged with libtiff through anonymous memory files (``memfd``), so no
bytes touch the disk.  libtiff's own error and warning output is captured per call
and turned into :class:`CodingError`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from umfax.conversion.errors import CodingError, ToolMissing

logger = logging.getLogger(__name__)

Encoding = Literal["mh", "mr", "mmr"]
ENCODINGS: tuple[Encoding, ...] = ("mh", "mr", "mmr")

# TIFF tags and values used here.
TAG_WIDTH = 256
TAG_LENGTH = 257
TAG_BITS = 258
TAG_COMPRESSION = 259
TAG_PHOTOMETRIC = 262
TAG_FILLORDER = 266
TAG_SAMPLES = 277
TAG_ROWSPERSTRIP = 278
TAG_T4OPTIONS = 292
TAG_T6OPTIONS = 293
COMPRESSION_CCITTFAX3 = 3
COMPRESSION_CCITTFAX4 = 4

_lock = threading.Lock()
_messages = threading.local()
_lib: Any = None
_libc: Any = None
_handler_ref: Any = None  # keeps the ctypes callback alive

_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)


def _on_message(module: bytes | None, fmt: bytes | None, ap: int | None) -> None:
    buf = ctypes.create_string_buffer(512)
    try:
        _libc.vsnprintf(buf, ctypes.c_size_t(len(buf)), fmt, ctypes.c_void_p(ap))
        text = buf.value.decode("latin-1")
    except Exception:  # pragma: no cover - formatting must never raise into C
        text = (fmt or b"").decode("latin-1")
    log = getattr(_messages, "log", None)
    if log is not None:
        log.append(f"{(module or b'').decode('latin-1')}: {text}")


def _library() -> Any:
    global _lib, _libc, _handler_ref
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        name = ctypes.util.find_library("tiff")
        if name is None:
            raise ToolMissing(
                "the TIFF library (libtiff) is not installed; install the Debian package libtiff6"
            )
        lib = ctypes.CDLL(name)
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                   ctypes.c_void_p]
        lib.TIFFFdOpen.restype = ctypes.c_void_p
        lib.TIFFFdOpen.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p]
        lib.TIFFClose.argtypes = [ctypes.c_void_p]
        lib.TIFFWriteEncodedStrip.restype = ctypes.c_ssize_t
        lib.TIFFWriteEncodedStrip.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                                              ctypes.c_ssize_t]
        lib.TIFFReadEncodedStrip.restype = ctypes.c_ssize_t
        lib.TIFFReadEncodedStrip.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p,
                                             ctypes.c_ssize_t]
        lib.TIFFSetField.restype = ctypes.c_int
        handler = _HANDLER(_on_message)
        lib.TIFFSetErrorHandler.argtypes = [_HANDLER]
        lib.TIFFSetWarningHandler.argtypes = [_HANDLER]
        lib.TIFFSetErrorHandler(handler)
        lib.TIFFSetWarningHandler(handler)
        _handler_ref = handler
        _libc = libc
        _lib = lib
    return _lib


def _set(lib: Any, tif: int, tag: int, value: int) -> None:
    # Variadic: libtiff reads uint16 tags as int and uint32 as uint32 (both fit c_uint).
    if not lib.TIFFSetField(ctypes.c_void_p(tif), ctypes.c_uint32(tag), ctypes.c_uint(value)):
        raise CodingError(f"libtiff refused tag {tag}={value}")


def row_bytes(width: int) -> int:
    return (width + 7) // 8


def _check(width: int, length: int) -> None:
    if not 1 <= width <= 65535 or not 0 <= length <= 1_000_000:
        raise CodingError(f"page size {width}x{length} is not a fax page size")


def _compression(encoding: Encoding) -> tuple[int, int, int]:
    """(Compression, tag for options, options value)."""
    if encoding == "mh":
        return COMPRESSION_CCITTFAX3, TAG_T4OPTIONS, 0
    if encoding == "mr":
        return COMPRESSION_CCITTFAX3, TAG_T4OPTIONS, 1
    if encoding == "mmr":
        return COMPRESSION_CCITTFAX4, TAG_T6OPTIONS, 0
    raise CodingError(f"unknown fax coding {encoding!r}; use mh, mr or mmr")


class _Session:
    """One libtiff handle on a fresh memory file, with captured messages."""

    def __init__(self, mode: str, content: bytes = b"") -> None:
        self.lib = _library()
        self.fd = os.memfd_create("umfax-codec", os.MFD_CLOEXEC)
        if content:
            os.write(self.fd, content)
            os.lseek(self.fd, 0, os.SEEK_SET)
        # libtiff closes the descriptor it is given; keep our own for reading back.
        self.tif: int | None = self.lib.TIFFFdOpen(os.dup(self.fd), b"umfax", mode.encode())
        _messages.log = []
        if not self.tif:
            self.close()
            raise CodingError("libtiff could not open the page: " + "; ".join(self.messages()))

    def messages(self) -> list[str]:
        return list(getattr(_messages, "log", None) or [])

    def close_tiff(self) -> None:
        if self.tif:
            self.lib.TIFFClose(ctypes.c_void_p(self.tif))
            self.tif = None

    def close(self) -> None:
        self.close_tiff()
        os.close(self.fd)
        _messages.log = None

    def read_back(self) -> bytes:
        size = os.fstat(self.fd).st_size
        return os.pread(self.fd, size, 0)


def encode(bitmap: npt.NDArray[np.uint8], width: int, encoding: Encoding) -> bytes:
    """Code packed rows (shape (length, ceil(width/8)), set bit = black) as one strip.

    Returns the raw coded bit stream, FillOrder=1: MH/MR with an EOL before every
    line and no RTC, MMR ending with EOFB.
    """
    length = int(bitmap.shape[0])
    _check(width, length)
    if length == 0:
        raise CodingError("cannot code an empty page")
    if bitmap.shape[1] != row_bytes(width) or bitmap.dtype != np.uint8:
        raise CodingError("bitmap rows do not match the page width")
    data = np.ascontiguousarray(bitmap)
    compression, opt_tag, opt_value = _compression(encoding)
    session = _Session("w")
    try:
        lib, tif = session.lib, session.tif
        assert tif is not None
        for tag, value in (
            (TAG_WIDTH, width), (TAG_LENGTH, length), (TAG_BITS, 1), (TAG_SAMPLES, 1),
            (TAG_COMPRESSION, compression), (TAG_PHOTOMETRIC, 0), (TAG_FILLORDER, 1),
            (TAG_ROWSPERSTRIP, length), (opt_tag, opt_value),
        ):
            _set(lib, tif, tag, value)
        size = data.shape[0] * data.shape[1]
        written = lib.TIFFWriteEncodedStrip(ctypes.c_void_p(tif), 0,
                                            data.ctypes.data_as(ctypes.c_void_p), size)
        if written < 0:
            raise CodingError("coding the page failed: " + "; ".join(session.messages()))
        session.close_tiff()
        from umfax.conversion.tiff import read_tiff  # local: tiff imports codec

        ifds = read_tiff(session.read_back())
        if len(ifds) != 1:
            raise CodingError("libtiff wrote an unexpected file")
        return ifds[0].strip_data()
    finally:
        session.close()


def decode(strip: bytes, width: int, length: int, encoding: Encoding) -> npt.NDArray[np.uint8]:
    """Decode a coded strip into packed rows (set bit = black).

    With ``length == 0`` the number of rows is found by decoding (EOL count for MH/MR,
    EOFB or end of data for MMR).
    """
    _check(width, length)
    if not strip:
        raise CodingError("the page holds no coded data")
    if length == 0:
        return _decode_unknown_length(strip, width, encoding)
    rows, _complete = _decode_into(strip, width, length, encoding)
    return rows


def count_rows(strip: bytes, encoding: Encoding, width: int) -> int:
    """Rows of a coded page, decoded by libtiff (in C, without the GIL): the T.30 engine's
    ``ReceiveOptions.count_rows`` for ECM pages.  ValueError when the data cannot be read."""
    try:
        return int(decode(strip, width, 0, encoding).shape[0])
    except CodingError as exc:
        raise ValueError(str(exc)) from exc


_SENTINEL = 0x5A  # 01011010: a row of these has ~1300 colour changes; no fax row does


def _decode_into(strip: bytes, width: int, length: int,
                 encoding: Encoding) -> tuple[npt.NDArray[np.uint8], int]:
    """Decode up to ``length`` rows; returns the rows and how many were really decoded."""
    from umfax.conversion.tiff import build_tiff_page  # local: tiff imports codec

    _compression(encoding)  # validates the coding name
    container = build_tiff_page(strip, width, length, 204.0, 196.0, encoding)
    stride = row_bytes(width)
    out = np.full((length, stride), _SENTINEL, dtype=np.uint8)
    session = _Session("r", container)
    try:
        got = session.lib.TIFFReadEncodedStrip(ctypes.c_void_p(session.tif), 0,
                                               out.ctypes.data_as(ctypes.c_void_p),
                                               out.size)
        problems = session.messages()
    finally:
        session.close()
    if got < 0:
        raise CodingError("the coded page data is damaged: " + "; ".join(problems or ["?"]))
    sentinel_rows = np.all(out == _SENTINEL, axis=1)
    undecoded = np.flatnonzero(sentinel_rows)
    decoded = int(undecoded[0]) if undecoded.size else length
    if decoded < length:
        out[decoded:] = 0
    if problems:
        logger.debug("fax decode messages", extra={"messages": problems, "rows": decoded})
    return out, decoded


def count_eol_rows(strip: bytes) -> int:
    """Rows of an MH/MR stream: EOL codes (>= 11 zeros then a one) not part of RTC."""
    bits = np.unpackbits(np.frombuffer(strip, dtype=np.uint8))
    ones = np.flatnonzero(bits)
    if ones.size == 0:
        return 0
    gaps = np.diff(np.concatenate(([-1], ones))) - 1  # zeros before each one
    eol_at = ones[gaps >= 11]  # bit index of the 1 that ends each EOL
    if eol_at.size == 0:
        return 0
    # Lines are the EOLs followed by data; EOLs back to back (RTC) carry none.
    # In MR an EOL is followed by a one-bit tag, so allow 1 bit between EOLs.
    nxt = np.concatenate((eol_at[1:], [bits.size + 100]))
    separated = (nxt - eol_at) > 13
    return int(np.count_nonzero(separated & (eol_at < bits.size - 1)))


def _decode_unknown_length(strip: bytes, width: int,
                           encoding: Encoding) -> npt.NDArray[np.uint8]:
    if encoding in ("mh", "mr"):
        rows = count_eol_rows(strip)
        if rows == 0:
            raise CodingError("the coded page holds no lines (no EOL codes found)")
        out, decoded = _decode_into(strip, width, rows, encoding)
        return out[: max(decoded, 1)]
    # MMR: decode into a generous frame and keep the rows actually produced.
    cap = min(max(len(strip) * 8, 64), 16384)  # a line costs at least one bit
    out, decoded = _decode_into(strip, width, cap, encoding)
    if _ends_with_eofb(strip) and decoded > 1:
        decoded -= 1  # libtiff emits one (empty) row for the line where it met EOFB
    if decoded == 0:
        raise CodingError("the coded page holds no lines")
    return out[:decoded]


def _ends_with_eofb(strip: bytes) -> bool:
    """True if the stream ends with EOFB (two EOLs), allowing zero padding after it."""
    bits = np.unpackbits(np.frombuffer(strip[-8:], dtype=np.uint8))
    ones = np.flatnonzero(bits)
    if ones.size < 2:
        return False
    last, before = int(ones[-1]), int(ones[-2])
    return last - before == 12 and before >= 11 and not bits[before - 11:before].any()
