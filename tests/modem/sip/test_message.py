"""SIP message parsing and building, with RFC 4475 torture messages typed in."""

from __future__ import annotations

import pytest

from modem.errors import ModemError
from modem.sip.errors import SipParseError
from modem.sip.message import (
    MAX_BODY,
    SipRequest,
    SipResponse,
    StreamFramer,
    make_response,
    parse_message,
)
from modem.sip.uri import NameAddr, SipUri, Via


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def with_body(head: str, body: str) -> bytes:
    """Head with Content-Length computed, then the body (lines joined with CRLF)."""
    body_bytes = crlf(body)
    return crlf(head.replace("@LEN@", str(len(body_bytes)))) + b"\r\n" + body_bytes


SDP = """v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.3
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
"""

# RFC 4475 3.1.1.1 "wsinv": a short tortuous INVITE
WSINV = with_body("""INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : @LEN@
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33
""", SDP)


def test_rfc4475_wsinv_tortuous_invite() -> None:
    msg = parse_message(WSINV)
    assert isinstance(msg, SipRequest)
    assert msg.method == "INVITE"
    assert msg.uri.user == "vivekg" and msg.uri.params == {"unknownparam": None}
    assert msg.to().tag == "1918181833n"
    frm = msg.from_()
    assert frm.display == 'J Rosenberg \\"' and frm.tag == "98asjd8"
    assert msg.int_header("Max-Forwards") == 68
    assert msg.cseq().seq == 9 and msg.cseq().method == "INVITE"
    vias = msg.vias()
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("Subject") == ""
    contact = msg.contacts()[0]
    assert contact.display == 'Quoted string ""' and contact.params["q"] == "0.33"
    assert "secondparam" in contact.params and contact.params["newparam"] == "newvalue"
    route = NameAddr.parse(msg.headers.get_all("Route")[0])
    assert route.uri.lr and route.uri.params["unknownwith"] == "value"
    assert msg.body.startswith(b"v=0\r\n") and msg.body.endswith(b"a=rtpmap:31 LPC\r\n")


RURI = ("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,"
        "weird!*pas$wo~d_too.(doesn't-it)@example.com")
FROM_PARAMS = ";fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-."


def test_rfc4475_intmeth_unknown_method_and_escapes() -> None:
    raw = crlf("""!interesting-Method0123456789_*+`.%indeed'~ RURI SIP/2.0
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~
To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>
From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>FROM_PARAMS
Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/"][?}{
CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~
Max-Forwards: 255
extensionHeader-!.%*+_`'~: 大停電
Content-Length: 0

""".replace("RURI", RURI).replace("FROM_PARAMS", FROM_PARAMS))
    msg = parse_message(raw)
    assert isinstance(msg, SipRequest)
    assert msg.from_().tag == "_token~1'+`*%!-."
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.uri.host == "example.com"
    assert msg.from_().display == "token1~` token2'+_ token3*%!.-"
    assert msg.headers.get("extensionHeader-!.%*+_`'~") == "大停電"


def test_compact_forms_and_response() -> None:
    raw = crlf("""SIP/2.0 180 Ringing
v: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKabc;rport=5062;received=192.0.2.9
f: <sip:a@x>;tag=1
t: <sip:b@y>;tag=2
i: abc@x
CSeq: 1 INVITE
m: <sip:b@10.0.0.2:5070;transport=tcp>
k: timer, 100rel
l: 0

""")
    msg = parse_message(raw)
    assert isinstance(msg, SipResponse)
    assert msg.status == 180 and msg.reason == "Ringing"
    via = msg.via()
    assert via.rport == 5062 and via.received == "192.0.2.9" and via.port == 5062
    assert msg.call_id() == "abc@x"
    assert msg.contacts()[0].uri.transport == "tcp" and msg.contacts()[0].uri.port == 5070
    assert msg.tokens("Supported") == {"timer", "100rel"}
    again = parse_message(msg.serialize())
    assert isinstance(again, SipResponse) and again.headers.items == msg.headers.items


def test_serialize_round_trip_and_make_response() -> None:
    msg = parse_message(WSINV)
    assert isinstance(msg, SipRequest)
    again = parse_message(msg.serialize())
    assert isinstance(again, SipRequest)
    assert again.body == msg.body and again.headers.get_all("Via") == msg.headers.get_all("Via")
    resp = make_response(msg, 200, to_tag="zz")
    assert resp.reason == "OK" and resp.to().tag == "1918181833n"  # had a tag already
    assert resp.headers.get_all("Via") == msg.headers.get_all("Via")


@pytest.mark.parametrize("text,expected", [
    ("sip:alice@atlanta.com", ("alice", "atlanta.com", None)),
    ("sip:alice:secretword@atlanta.com;transport=tcp", ("alice", "atlanta.com", None)),
    ("sips:+1-212-555-1212:1234@gateway.com;user=phone", ("+1-212-555-1212", "gateway.com", None)),
    ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", (None, "atlanta.com", None)),
    ("sip:alice@[2001:db8::10]:5070", ("alice", "[2001:db8::10]", 5070)),
    ("SIP:Bob@Biloxi.COM:5061;LR", ("Bob", "biloxi.com", 5061)),
])
def test_sip_uris(text: str, expected: tuple[str | None, str, int | None]) -> None:
    uri = SipUri.parse(text)
    assert (uri.user, uri.host, uri.port) == expected
    assert SipUri.parse(str(uri)) == uri


def test_name_addr_forms() -> None:
    plain = NameAddr.parse("sip:alice@example.com;tag=abc")  # addr-spec: tag is the header's
    assert plain.tag == "abc" and plain.uri.params == {}
    both = NameAddr.parse('Alice Smith <sip:alice@example.com;transport=udp>;tag=9')
    assert both.display == "Alice Smith" and both.uri.transport == "udp" and both.tag == "9"
    assert NameAddr.parse(str(both)) == both
    tel = NameAddr.parse("<tel:+15551234>")
    assert tel.uri.scheme == "tel" and tel.uri.opaque == "+15551234"
    via = Via.parse("SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK1;rport")
    assert via.host == "[2001:db8::9]" and via.rport is None and "rport" in via.params


BASE = """INVITE sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
From: <sip:caller@example.net>;tag=1
To: <sip:user@example.com>
Call-ID: bad@192.0.2.1
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 0

"""


INVALID = [
    # RFC 4475 3.1.2.x, abridged to the part that is wrong
    ("clerr", BASE.replace("Content-Length: 0", "Content-Length: 9999"), "Content-Length larger"),
    ("ncl", BASE.replace("Content-Length: 0", "Content-Length: -999"), "bad Content-Length"),
    ("scalar02", BASE.replace("Max-Forwards: 70", "Max-Forwards: 300"), "Max-Forwards"),
    ("scalarlg", BASE.replace("CSeq: 1 INVITE", "CSeq: 36893488147419103232 INVITE"), "CSeq"),
    ("quotbal", BASE.replace("From: <", 'From: "Bob <'), "name-addr|quoted"),
    ("ltgtruri", BASE.replace("INVITE sip:user@example.com", "INVITE <sip:user@example.com>"), "URI"),
    ("lwsruri", BASE.replace("sip:user@example.com SIP", "sip:user@example.com;lr=0 x SIP"), "request line"),
    ("lwsstart", BASE.replace("INVITE sip", "INVITE  sip"), "request line"),
    ("trws", BASE.replace("SIP/2.0\n", "SIP/2.0 \n", 1), "request line"),
    ("badvers", BASE.replace("SIP/2.0\n", "SIP/7.0\n", 1), "version"),
    ("mismatch01", BASE.replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"), "CSeq method"),
    ("novia", BASE.replace("Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\n", ""), "missing Via"),
    ("badvia", BASE.replace("SIP/2.0/UDP 192.0.2.1", "SIP/2.0/UDP"), "Via"),
    ("badport", BASE.replace("192.0.2.1;", "192.0.2.1:99999;"), "port"),
    ("fold-first", BASE.replace("Via:", " Via:"), "continuation"),
]


@pytest.mark.parametrize("name,raw,reason", INVALID, ids=[case[0] for case in INVALID])
def test_invalid_messages_raise_clear_errors(name: str, raw: str, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse_message(crlf(raw))


def test_parse_error_is_a_modem_error_and_garbage_never_crashes() -> None:
    assert issubclass(SipParseError, ModemError)
    for junk in (b"", b"\r\n\r\n", b"\x00\xff" * 50, b"GET / HTTP/1.1\r\n\r\n", b"SIP/2.0 99 x\r\n\r\n",
                 b"INVITE sip:a@b SIP/2.0\r\nVia\r\n\r\n", b"INVITE sip:a@b SIP/2.0\r\n" + b"X: y\r\n" * 500):
        with pytest.raises(SipParseError):
            parse_message(junk)


def test_unchecked_parse_keeps_headers_for_a_400() -> None:
    raw = crlf(BASE.replace("CSeq: 1 INVITE", "CSeq: 1 OPTIONS"))
    msg = parse_message(raw, check=False)
    assert isinstance(msg, SipRequest)
    assert make_response(msg, 400, "CSeq mismatch", to_tag="t").to().tag == "t"


def test_stream_framer_cuts_messages_and_skips_keepalives() -> None:
    body = "v=0\r\n"
    msg = crlf(BASE.replace("Content-Length: 0", f"Content-Length: {len(body)}")) + body.encode()
    stream = b"\r\n\r\n" + msg + b"\r\n" + msg + msg[:10]
    framer = StreamFramer()
    out: list[bytes] = []
    for i in range(0, len(stream), 7):
        out += framer.feed(stream[i : i + 7])
    assert out == [msg, msg]
    assert framer.feed(msg[10:]) == [msg]
    parsed = parse_message(out[0])
    assert parsed.body == b"v=0\r\n"


def test_stream_framer_refuses_oversized() -> None:
    with pytest.raises(SipParseError, match="too large"):
        StreamFramer().feed(crlf(BASE.replace("Content-Length: 0", f"Content-Length: {MAX_BODY + 1}")))
    with pytest.raises(SipParseError, match="too long"):
        StreamFramer().feed(b"INVITE " + b"a" * 40000)


def test_unchecked_parse_skips_bad_header_lines_and_content_length() -> None:
    """Enough of a request with a header line that is no header, or an absurd
    Content-Length, is read to answer it 400 (the checked parse refuses both)."""
    for bad in ("this line is no header", "Content-Length: 99999999999"):
        raw = crlf(BASE.replace("Content-Length: 0", bad))
        with pytest.raises(SipParseError):
            parse_message(raw)
        msg = parse_message(raw, check=False)
        assert isinstance(msg, SipRequest) and msg.headers.get("Via")
