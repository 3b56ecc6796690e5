"""G.711 companding (ITU-T G.711): mu-law (PCMU, RTP payload type 0) and A-law (PCMA, 8).

Table driven with numpy: a 256-entry table decodes, a 65536-entry table (one entry per
16-bit linear sample) encodes.  The tables are built from the same formulas spandsp's
``g711.h`` uses (16-bit full scale, mu-law bias 0x84, A-law even bits inverted), so an
octet stream coded here decodes there to the same samples and back.  No ``audioop``:
Python 3.13 removed it.  Pure functions, no I/O.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Law = Literal["PCMU", "PCMA"]

#: Static RTP payload types (RFC 3551) of the two laws.
PAYLOAD_TYPES: dict[Law, int] = {"PCMU": 0, "PCMA": 8}
LAWS: dict[int, Law] = {pt: law for law, pt in PAYLOAD_TYPES.items()}
#: The octet each law codes silence (linear 0) as.
SILENCE: dict[Law, int] = {"PCMU": 0xFF, "PCMA": 0xD5}

ULAW_BIAS = 0x84
ALAW_AMI_MASK = 0x55

Samples = npt.NDArray[np.int16]


def _top_bit(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Index of the highest set bit of each (positive) value."""
    return np.floor(np.log2(values.astype(np.float64))).astype(np.int64)


def _ulaw_decode_table() -> Samples:
    u = (~np.arange(256, dtype=np.int64)) & 0xFF
    t = (((u & 0x0F) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, ULAW_BIAS - t, t - ULAW_BIAS).astype(np.int16)


def _alaw_decode_table() -> Samples:
    a = np.arange(256, dtype=np.int64) ^ ALAW_AMI_MASK
    seg = (a & 0x70) >> 4
    base = (a & 0x0F) << 4
    i = np.where(seg > 0, (base + 0x108) << np.maximum(seg - 1, 0), base + 8)
    return np.where(a & 0x80, i, -i).astype(np.int16)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int64)
    negative = linear < 0
    biased = np.where(negative, ULAW_BIAS - linear, ULAW_BIAS + linear)
    mask = np.where(negative, 0x7F, 0xFF)
    seg = _top_bit(biased | 0xFF) - 7
    coded = ((np.minimum(seg, 7) << 4) | ((biased >> (np.minimum(seg, 7) + 3)) & 0x0F)) ^ mask
    coded = np.where(seg >= 8, 0x7F ^ mask, coded)
    return np.roll(coded.astype(np.uint8), -32768)  # index by the sample as uint16


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    linear = np.arange(-32768, 32768, dtype=np.int64)
    negative = linear < 0
    mask = np.where(negative, ALAW_AMI_MASK, ALAW_AMI_MASK | 0x80)
    magnitude = np.where(negative, -linear - 1, linear)
    seg = _top_bit(magnitude | 0xFF) - 7
    shift = np.where(seg > 0, np.minimum(seg, 7) + 3, 4)
    coded = ((np.minimum(seg, 7) << 4) | ((magnitude >> shift) & 0x0F)) ^ mask
    coded = np.where(seg >= 8, 0x7F ^ mask, coded)
    return np.roll(coded.astype(np.uint8), -32768)


_DECODE: dict[Law, Samples] = {"PCMU": _ulaw_decode_table(), "PCMA": _alaw_decode_table()}
_ENCODE: dict[Law, npt.NDArray[np.uint8]] = {"PCMU": _ulaw_encode_table(), "PCMA": _alaw_encode_table()}


def decode(octets: bytes, law: Law) -> Samples:
    """16-bit linear samples of G.711 ``octets`` (one sample per octet)."""
    return _DECODE[law][np.frombuffer(octets, dtype=np.uint8)]


def encode(samples: npt.ArrayLike, law: Law) -> bytes:
    """G.711 octets of 16-bit linear ``samples``."""
    index = np.asarray(samples, dtype=np.int16).view(np.uint16)
    return _ENCODE[law][index].tobytes()


def samples_of(audio: bytes) -> Samples:
    """Native-endian int16 octets as samples (no copy)."""
    return np.frombuffer(audio, dtype=np.int16)


def decoder(law: Law) -> DecodeToBytes:
    """A function from G.711 octets to native-endian 16-bit linear bytes (what
    :class:`modem.rtp.JitterBuffer` holds and spandsp's audio calls take)."""
    return DecodeToBytes(law)


class DecodeToBytes:
    """G.711 octets -> native-endian int16 bytes, for one law (a picklable callable)."""

    __slots__ = ("law",)

    def __init__(self, law: Law) -> None:
        self.law = law

    def __call__(self, octets: bytes) -> bytes:
        return decode(octets, self.law).tobytes()


__all__ = [
    "LAWS", "PAYLOAD_TYPES", "SILENCE", "DecodeToBytes", "Law", "decode", "decoder", "encode", "samples_of",
]
