"""G.711 tables (modem.g711): the standard's values, round trips, and spandsp's own codec
(libspandsp2 ``g711_encode``/``g711_decode``) agreeing on every octet and every sample."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from modem import g711


def test_known_values() -> None:
    # G.711: mu-law 0xFF and A-law 0xD5 are zero; the extremes are +-32124 / +-32256
    assert g711.decode(bytes([0xFF, 0x7F, 0x80, 0x00]), "PCMU").tolist() == [0, 0, 32124, -32124]
    assert g711.decode(bytes([0xD5, 0x55, 0xAA, 0x2A]), "PCMA").tolist() == [8, -8, 32256, -32256]
    assert g711.encode([0], "PCMU") == bytes([g711.SILENCE["PCMU"]])
    assert g711.encode([0], "PCMA") == bytes([g711.SILENCE["PCMA"]])
    assert g711.encode([32767, -32768], "PCMU") == bytes([0x80, 0x00])
    assert g711.encode([32767, -32768], "PCMA") == bytes([0xAA, 0x2A])


@pytest.mark.parametrize("law", ["PCMU", "PCMA"])
def test_every_octet_survives_decode_then_encode(law: g711.Law) -> None:
    octets = bytes(range(256))
    if law == "PCMU":  # 0x7F and 0xFF are both zero: zero codes as 0xFF
        octets = bytes(o for o in octets if o != 0x7F)
    assert g711.encode(g711.decode(octets, law), law) == octets


@pytest.mark.parametrize("law", ["PCMU", "PCMA"])
def test_quantisation_error_is_within_a_step(law: g711.Law) -> None:
    samples = np.arange(-32768, 32768, 7, dtype=np.int16)
    back = g711.decode(g711.encode(samples, law), law).astype(np.int64)
    error = np.abs(back - samples)
    # the step is at most 1/16 of the magnitude (a segment has 16 steps), 16 near zero
    assert np.all(error <= np.abs(samples.astype(np.int64)) // 16 + 16)
    assert g711.decoder(law)(g711.encode(samples[:10], law)) == back[:10].astype(np.int16).tobytes()


@pytest.mark.parametrize(("law", "mode"), [("PCMU", 1), ("PCMA", 0)])
def test_same_as_spandsp(law: g711.Law, mode: int) -> None:
    from modem.sim.spandsp_lib import spandsp_available

    if not spandsp_available():
        pytest.skip("libspandsp2 is not installed")
    from tests.servers.fax_audio import _fax_lib

    lib = _fax_lib()
    state = lib.g711_init(None, mode)
    try:
        octets = (ctypes.c_uint8 * 256)(*range(256))
        decoded = (ctypes.c_int16 * 256)()
        lib.g711_decode(state, decoded, octets, 256)
        ours = g711.decode(bytes(range(256)), law)
        assert np.array_equal(np.frombuffer(bytes(decoded), dtype=np.int16), ours)
        samples = np.arange(-32768, 32768, dtype=np.int16)
        coded = (ctypes.c_uint8 * len(samples))()
        lib.g711_encode(state, coded, samples.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), len(samples))
        assert bytes(coded) == g711.encode(samples, law)
    finally:
        lib.g711_free(state)
