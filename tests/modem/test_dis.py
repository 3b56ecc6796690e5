"""DIS/DCS facsimile information fields: encode/decode round trips and known octets."""

from __future__ import annotations

import itertools

import pytest

from modem.t30.dis import (
    RATE_LADDER,
    Capabilities,
    Params,
    decode_id,
    encode_id,
    modulation_code,
)


def test_dcs_round_trip_over_the_option_space() -> None:
    for (rate, fam), y_res, enc, ecm, size, width, scan in itertools.product(
        RATE_LADDER, (98.0, 196.0, 391.0), ("mh", "mr", "mmr"), (False, True), (256, 64),
        (1728, 2048, 2432), (0, 5, 10, 20, 40),
    ):
        if enc == "mmr" and not ecm:
            continue
        p = Params(bit_rate=rate, modem=fam, y_res=y_res, encoding=enc, ecm=ecm,  # type: ignore[arg-type]
                   ecm_frame_size=size if ecm else 256, width=width, length="unlimited",
                   min_scan_ms=scan)
        assert Params.decode(p.encode()) == p


def test_dis_round_trip() -> None:
    for mods, fine, sfine, mr, ecm, scan, length in itertools.product(
        (frozenset({"v27"}), frozenset({"v29"}), frozenset({"v27", "v29"}),
         frozenset({"v27", "v29", "v17"})),
        (False, True), (False, True), (False, True), (False, True),
        ((0, False), (20, False), (40, True), (10, True), (5, False)), ("a4", "b4", "unlimited"),
    ):
        c = Capabilities(modems=mods, fine=fine, superfine=sfine, mr=mr, mmr=ecm, ecm=ecm,
                         min_scan_ms=scan[0], scan_half_fine=scan[1], length=length)
        assert Capabilities.decode(c.encode()) == c


def test_known_dcs_octets() -> None:
    # V.29 9600, fine, MH, A4, 20 ms: bits 10, 11, 15 -> octet 2 = 0b0100_0110
    p = Params(bit_rate=9600, modem="v29", y_res=196.0, encoding="mh", length="a4",
               min_scan_ms=20)
    assert p.encode() == bytes([0x00, 0x46, 0x00])
    # V.17 14400 ECM MMR: bit 14 set, and a 4th octet (bit 24 extension) with bits 27, 31
    p2 = Params(bit_rate=14400, modem="v17", y_res=98.0, encoding="mmr", ecm=True,
                length="a4", min_scan_ms=0)
    assert p2.encode() == bytes([0x00, 0x22, 0xF0, 0x44])


def test_efax_dis_decodes() -> None:
    # DIS FIF captured from efax (its log shows it bit-reversed: ff c8 01 00 76 1e)
    caps = Capabilities.decode(bytes([0x00, 0x6E, 0x78]))
    assert caps.receive and caps.fine and not caps.ecm
    assert caps.modems == frozenset({"v27", "v29", "v17"})
    assert caps.rates()[0] == (14400, "v17")
    assert caps.length == "unlimited" and caps.min_scan_ms == 0


@pytest.mark.parametrize("fam,rate,long_code,short_code", [
    ("v27", 2400, 24, 24), ("v27", 4800, 48, 48), ("v29", 7200, 72, 72),
    ("v29", 9600, 96, 96), ("v17", 7200, 73, 74), ("v17", 9600, 97, 98),
    ("v17", 12000, 121, 122), ("v17", 14400, 145, 146),
])
def test_t31_modulation_codes(fam: str, rate: int, long_code: int, short_code: int) -> None:
    assert modulation_code(fam, rate) == long_code
    assert modulation_code(fam, rate, short_train=True) == short_code


def test_scan_time_halving_for_fine() -> None:
    c = Capabilities(min_scan_ms=20, scan_half_fine=True)
    assert c.scan_ms(98.0) == 20 and c.scan_ms(196.0) == 10
    assert Params(bit_rate=9600, modem="v29", min_scan_ms=10).min_scan_bits() == 96
    assert Params(bit_rate=14400, modem="v17").tcf_octets() == 2700  # 1.5 s


def test_subscriber_id() -> None:
    fif = encode_id("+49 30 1234")
    assert len(fif) == 20 and fif.startswith(b" ") and fif.endswith(b"+")
    assert decode_id(fif) == "+49 30 1234"
    assert decode_id(encode_id("abc 12")) == "12"  # only digits, space and + are sent
