"""Reading MIME: header text in any charset, RFC 2047 encoded words."""

from __future__ import annotations

from umfax.mail.mime import decode_bytes, decode_rfc2047

# -- encoded words and charsets --------------------------------------------------------------

def test_decode_rfc2047() -> None:
    assert decode_rfc2047("=?utf-8?B?SsO2?= =?utf-8?B?cmc=?=") == "Jörg"
    # a UTF-8 character split across two encoded words
    assert decode_rfc2047("=?utf-8?Q?J=C3?= =?utf-8?Q?=B6rg?=") == "Jörg"
    assert decode_rfc2047("a =?iso-8859-1?q?M=FCller?= b") == "a Müller b"
    assert decode_rfc2047("=?utf-8*en?Q?Hello_World?=") == "Hello World"
    assert decode_rfc2047("=?x-unknown?Q?caf=C3=A9?=") == "café"
    assert decode_rfc2047("=?utf-8?B?!!!?=") == ""
    assert decode_rfc2047("=?utf-8?X?abc?= plain") == "=?utf-8?X?abc?= plain"
    assert decode_rfc2047("=?utf-8?B?A?= plain") == "=?utf-8?B?A?= plain"  # undecodable: left as it is
    assert decode_rfc2047("=?utf-8?Q?a?==?utf-8?Q?b?=") == "ab"
    assert decode_rfc2047("no words here") == "no words here"
    assert decode_rfc2047("=?utf-8?Q?a?= x =?utf-8?Q?b?=") == "a x b"


def test_decode_bytes_falls_back() -> None:
    assert decode_bytes("café".encode(), "us-ascii") == "café"
    assert decode_bytes("café".encode("cp1252"), "utf-8") == "café"
    assert decode_bytes("café".encode("cp1252"), "") == "café"
    assert decode_bytes(b"abc", "rot13") == "abc"  # not a text encoding
    assert decode_bytes("Grüße".encode("iso-8859-15"), "ISO-8859-15") == "Grüße"
    assert decode_bytes("\u65e5\u672c".encode("shift_jis"), "shift_jis") == "\u65e5\u672c"
