"""Digest authentication client (RFC 2617, RFC 7616, RFC 8760) against the RFCs' vectors."""

from __future__ import annotations

import hashlib
import random

import pytest

from modem.errors import DigestError, ModemError
from modem.sip.digest import (
    Challenge,
    authorization,
    parse_challenge,
    parse_challenges,
    pick_challenge,
    response,
)

# RFC 7616 3.9.1: one 401 with two WWW-Authenticate values, SHA-256 first
RFC7616_SHA256 = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
RFC7616_MD5 = (
    'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, '
    'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)
RFC7616_ARGS = {
    "method": "GET",
    "uri": "/dir/index.html",
    "username": "Mufasa",
    "password": "Circle of Life",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "nc": 1,
}

# RFC 2617 3.5
RFC2617 = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC2617_ARGS = {
    "method": "GET",
    "uri": "/dir/index.html",
    "username": "Mufasa",
    "password": "Circle Of Life",
    "cnonce": "0a4f113b",
    "nc": 1,
}


def test_rfc7616_sha256_vector() -> None:
    ch = parse_challenge(RFC7616_SHA256)
    assert (ch.algorithm, ch.qop, ch.realm) == ("SHA-256", ("auth", "auth-int"), "http-auth@example.org")
    value, qop = response(ch, **RFC7616_ARGS)  # type: ignore[arg-type]
    assert qop == "auth"
    assert value == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


def test_rfc7616_md5_vector() -> None:
    value, _ = response(parse_challenge(RFC7616_MD5), **RFC7616_ARGS)  # type: ignore[arg-type]
    assert value == "8ca523f5e9506fed4657c9700eebdbec"


def test_rfc2617_vector_and_header() -> None:
    ch = parse_challenge(RFC2617)
    header = authorization(ch, **RFC2617_ARGS)  # type: ignore[arg-type]
    assert header == (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
        'response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", qop=auth, nc=00000001, '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )


def test_sha256_is_picked_over_md5_whatever_the_order() -> None:
    assert pick_challenge([RFC7616_MD5, RFC7616_SHA256]).algorithm == "SHA-256"
    assert pick_challenge([RFC7616_SHA256, RFC7616_MD5]).algorithm == "SHA-256"
    assert pick_challenge([RFC7616_MD5 + ", " + RFC7616_SHA256]).algorithm == "SHA-256"
    # an algorithm we do not know is skipped, not answered
    assert pick_challenge([RFC7616_MD5.replace("MD5", "SHA-512-256"), RFC2617]).realm == "testrealm@host.com"
    with pytest.raises(DigestError):
        pick_challenge(['Digest realm="r", nonce="n", algorithm=SHA-512-256'])
    with pytest.raises(DigestError):
        pick_challenge(['Basic realm="r"'])
    assert pick_challenge(['Digest realm="broken', RFC2617]).realm == "testrealm@host.com"


def test_several_challenges_commas_in_quotes_and_other_schemes() -> None:
    value = (
        'Basic realm="simple", Newauth realm="apps", type=1, title="Login to \\"apps\\"", '
        'Digest realm="a, b", nonce="x,y", qop="auth", algorithm=SHA-256-sess, stale=TRUE'
    )
    [ch] = parse_challenges(value)
    assert (ch.realm, ch.nonce, ch.algorithm, ch.stale) == ("a, b", "x,y", "SHA-256-SESS", True)
    assert ch.session and ch.hash_name == "SHA-256"
    assert parse_challenges("Basic dXNlcjpwYXNz==, Digest realm=r, nonce=n")[0].realm == "r"


def test_legacy_no_qop() -> None:
    ch = parse_challenge('Digest realm="asterisk", nonce="4f1d2e3c"')
    header = authorization(
        ch, method="REGISTER", uri="sip:pbx.example", username="100", password="pw", cnonce="c", nc=1
    )
    ha1 = hashlib.md5(b"100:asterisk:pw").hexdigest()
    ha2 = hashlib.md5(b"REGISTER:sip:pbx.example").hexdigest()
    expect = hashlib.md5(f"{ha1}:4f1d2e3c:{ha2}".encode()).hexdigest()
    assert header == (
        'Digest username="100", realm="asterisk", nonce="4f1d2e3c", uri="sip:pbx.example", '
        f'response="{expect}"'
    )
    assert "algorithm" not in header and "nc=" not in header and "cnonce" not in header


def test_md5_sess_and_nc_formatting() -> None:
    ch = parse_challenge('Digest realm="r", nonce="n", qop=auth, algorithm=MD5-sess, opaque=""')
    header = authorization(ch, method="INVITE", uri="sip:x@y", username="u", password="p", cnonce="c", nc=300)
    ha1 = hashlib.md5(hashlib.md5(b"u:r:p").hexdigest().encode() + b":n:c").hexdigest()
    ha2 = hashlib.md5(b"INVITE:sip:x@y").hexdigest()
    expect = hashlib.md5(f"{ha1}:n:0000012c:c:auth:{ha2}".encode()).hexdigest()
    assert f'response="{expect}"' in header
    assert "nc=0000012c" in header and "algorithm=MD5-sess" in header and 'opaque=""' in header


def test_auth_int_only_hashes_the_body() -> None:
    ch = parse_challenge('Digest realm="r", nonce="n", qop="auth-int", algorithm=SHA-256')
    a = authorization(
        ch, method="INVITE", uri="sip:x", username="u", password="p", cnonce="c", nc=1, body=b"v=0"
    )
    b = authorization(
        ch, method="INVITE", uri="sip:x", username="u", password="p", cnonce="c", nc=1, body=b"v=1"
    )
    assert "qop=auth-int" in a and a != b


def test_userhash_and_escaping() -> None:
    ch = parse_challenge('Digest realm="r", nonce="n", qop=auth, userhash=true')
    header = authorization(ch, method="REGISTER", uri="sip:r", username='J"o', password="p", cnonce="c", nc=1)
    hashed = hashlib.md5(b'J"o:r').hexdigest()
    assert f'username="{hashed}"' in header and "userhash=true" in header
    plain = parse_challenge('Digest realm="r\\"q", nonce="n"')
    assert plain.realm == 'r"q'
    assert 'realm="r\\"q"' in authorization(
        plain, method="REGISTER", uri="sip:r", username="u", password="p", cnonce="c", nc=1
    )


@pytest.mark.parametrize(
    "value",
    [
        'Digest realm="unterminated, nonce="x',
        'Digest nonce="x"',
        'realm="x"',
        "Digest realm=r, nonce=n, =x",
        "",
    ],
)
def test_malformed_challenges_raise_digest_error(value: str) -> None:
    with pytest.raises(DigestError):
        parse_challenge(value)
    assert issubclass(DigestError, ModemError)


def test_challenge_record() -> None:
    ch = Challenge(realm="r", nonce="n")
    assert ch.supported and ch.algorithm == "MD5" and not ch.stale and ch.opaque is None


def test_fuzz_only_digest_errors() -> None:
    rng = random.Random(7616)
    alphabet = ' ,="\\\trealmnoceDigstBaqopuh-SHA256'
    for _ in range(5000):
        text = list(rng.choice([RFC7616_SHA256, RFC7616_MD5, RFC2617]))
        for _ in range(rng.randrange(1, 5)):
            i = rng.randrange(len(text))
            text[i : i + rng.randrange(0, 3)] = rng.choice(alphabet) * rng.randrange(0, 2)
        try:
            for ch in parse_challenges("".join(text)):
                if ch.supported:
                    authorization(ch, **RFC2617_ARGS)  # type: ignore[arg-type]
        except DigestError:
            pass
