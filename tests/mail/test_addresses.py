"""Fax addresses: every form, header address lists, numbers in subjects."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from umfax.mail.addresses import (
    FaxAddress,
    Mailbox,
    dedupe,
    fax_recipients,
    number_from_subject,
    parse_address_list,
    parse_fax_address,
)
from umfax.mail.mime import decode_rfc2047

DOMAINS = ("fax.example.com",)


@pytest.mark.parametrize(
    ("address", "number", "name", "form"),
    [
        ("15551234567@fax.example.com", "15551234567", "", "fax_domain"),
        ("+15551234567@fax.example.com", "+15551234567", "", "fax_domain"),
        ("1-555-123-4567@fax.example.com", "1-555-123-4567", "", "fax_domain"),
        ("15551234567@FAX.Example.COM", "15551234567", "", "fax_domain"),
        ("15551234567@fax.example.com.", "15551234567", "", "fax_domain"),
        ("<15551234567@fax.example.com>", "15551234567", "", "fax_domain"),
        ('"+1 555 123 4567"@fax.example.com', "+1 555 123 4567", "", "fax_domain"),
        ("[FAX:Name@+1 (555) 123-4567]", "+1 (555) 123-4567", "Name", "outlook"),
        ("[FAX:+1 (555) 123-4567]", "+1 (555) 123-4567", "", "outlook"),
        ("FAX:Name@+1 (555) 123-4567", "+1 (555) 123-4567", "Name", "outlook"),
        ("[fax:John Smith@+1 (555) 123-4567]", "+1 (555) 123-4567", "John Smith", "outlook"),
        ("[FAX:Name@Company@+15551234567]", "+15551234567", "Name@Company", "outlook"),
        ("  [FAX: Ann Lee @ +44 20 7946 0958 ]  ", "+44 20 7946 0958", "Ann Lee", "outlook"),
        ("IMCEAFAX-Name+40+2B1+20+28555+29+20123-4567@example.com", "+1 (555) 123-4567", "Name", "imceafax"),
        ("imceafax-+2B15551234567@mail.example.org", "+15551234567", "", "imceafax"),
        ("IMCEAFAX-Dept_Sales+40+2B1+20555+20123+204567@example.com", "+1 555 123 4567", "Dept/Sales",
         "imceafax"),
        ("IMCEAFAX-Ren+C3+A9e+40+2B33+201+2023+2045+2067+2089@example.com", "+33 1 23 45 67 89", "Renée",
         "imceafax"),
        ("FAX=+15551234567@gateway.example", "+15551234567", "", "fax_equals"),
        ("fax=+15551234567@gateway.example", "+15551234567", "", "fax_equals"),
        ("FAX=Name@+15551234567@gateway.example", "+15551234567", "Name", "fax_equals"),
        ('"FAX=Jo Doe@+1 555 123 4567"@gateway.example', "+1 555 123 4567", "Jo Doe", "fax_equals"),
    ],
)
def test_fax_forms(address: str, number: str, name: str, form: str) -> None:
    fax = parse_fax_address(address, fax_domains=DOMAINS)
    assert fax is not None
    assert (fax.number, fax.name, fax.form) == (number, name, form)
    assert fax.written == address.strip().removeprefix("<").removesuffix(">")


@pytest.mark.parametrize(
    "address",
    [
        "colleague@example.com",
        "15551234567@sub.fax.example.com",  # subdomains are not implied
        "15551234567@example.com",
        "postmaster@fax.example.com",  # no digit: an ordinary mailbox at the fax domain
        "fax@allowed.example",
        "",
        "   ",
        "no-at-sign",
        "[192.168.0.1]",
    ],
)
def test_not_fax_addresses(address: str) -> None:
    assert parse_fax_address(address, fax_domains=DOMAINS) is None


def test_no_fax_domains_configured() -> None:
    assert parse_fax_address("15551234567@fax.example.com") is None
    assert parse_fax_address("15551234567@fax.example.com", fax_domains=["@FAX.example.com"]) is not None


def test_display_name_is_the_name_unless_the_address_carries_one() -> None:
    fax = parse_fax_address("15551234567@fax.example.com", "John Smith", fax_domains=DOMAINS)
    assert fax == FaxAddress("15551234567", "John Smith", "15551234567@fax.example.com", "fax_domain")
    outlook = parse_fax_address("[FAX:Jane@+1 555 123 4567]", "Someone Else")
    assert outlook is not None and outlook.name == "Jane"
    bare = parse_fax_address("[FAX:+1 555 123 4567]", "Jane Doe")
    assert bare is not None and bare.name == "Jane Doe"


def test_display_name_that_is_the_address_is_no_name() -> None:
    address = "15551234567@fax.example.com"
    fax = parse_fax_address(address, f"'{address}'", fax_domains=DOMAINS)
    assert fax is not None and fax.name == ""
    fax = parse_fax_address("[FAX:+1 555 123 4567]", "[FAX:+1 555 123 4567]")
    assert fax is not None and fax.name == ""


def test_clear_fax_address_with_a_bad_number_is_still_a_fax_address() -> None:
    """The caller's normalisation then tells the sender what is wrong with the number."""
    fax = parse_fax_address("[FAX:Jane@call me]")
    assert fax is not None and fax.number == "call me"
    fax = parse_fax_address("abc1@fax.example.com", fax_domains=DOMAINS)
    assert fax is not None and fax.number == "abc1"


# -- address lists --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"John Smith" <15551234567@fax.example.com>, colleague@example.com (Col League)',
         [Mailbox("John Smith", "15551234567@fax.example.com"),
          Mailbox("Col League", "colleague@example.com")]),
        ("=?utf-8?Q?J=C3=B6rg?= =?utf-8?Q?_M=C3=BCller?= <j@example.com>",
         [Mailbox("Jörg Müller", "j@example.com")]),
        ('"=?iso-8859-1?Q?Ren=E9e?=" <r@example.com>', [Mailbox("Renée", "r@example.com")]),
        ('"Smith, John" <j@x.example>; bare@x.example', [Mailbox("Smith, John", "j@x.example"),
                                                           Mailbox("", "bare@x.example")]),
        ("Team: a@x.example, B <b@x.example>;, c@x.example",
         [Mailbox("", "a@x.example"), Mailbox("B", "b@x.example"), Mailbox("", "c@x.example")]),
        ("undisclosed-recipients:;", []),
        ("", []),
        ('"quoted local"@x.example', [Mailbox("", "quoted local@x.example")]),
        ("john @ example . com", [Mailbox("", "john@example.com")]),
        ("<@route.example:user@x.example>", [Mailbox("", "user@x.example")]),
        ("Jane <[FAX:Jane@+1 (555) 000-1111]>", [Mailbox("Jane", "[FAX:Jane@+1 (555) 000-1111]")]),
        ("[FAX:Jane Doe@+1 (555) 123-4567], FAX:Bob@+1 (212) 555-0110, x@y.example",
         [Mailbox("", "[FAX:Jane Doe@+1 (555) 123-4567]"), Mailbox("", "FAX:Bob@+1 (212) 555-0110"),
          Mailbox("", "x@y.example")]),
        ("Fax Contact [FAX:+1 555 123 4567]", [Mailbox("Fax Contact", "[FAX:+1 555 123 4567]")]),
        ("FAX: a@x.example, b@x.example;", [Mailbox("", "a@x.example"), Mailbox("", "b@x.example")]),
        ("John Smith john@x.example", [Mailbox("John Smith", "john@x.example")]),
        ("a@x.example,,, ,b@x.example", [Mailbox("", "a@x.example"), Mailbox("", "b@x.example")]),
        ('"unterminated <a@x.example>', [Mailbox("", "unterminated <a@x.example>")]),
        ("Name <a@x.example", [Mailbox("Name", "a@x.example")]),
        ("(only a comment)", []),
        ('"Folded\r\n Name" <a@x.example>', [Mailbox("Folded Name", "a@x.example")]),
    ],
)
def test_parse_address_list(value: str, expected: list[Mailbox]) -> None:
    assert parse_address_list(value) == expected


def test_fax_recipients_from_headers() -> None:
    faxes, others = fax_recipients(
        [
            '"John" <12125550110@fax.example.com>, Bob <Bob@Allowed.example>',
            "1-212-555-0110@fax.example.com, [FAX:Jane@+1 (212) 555-0111], bob@allowed.example",
            "IMCEAFAX-+2B1+20212+20555+200112@allowed.example",
        ],
        fax_domains=DOMAINS,
    )
    assert [(f.number, f.name, f.form) for f in faxes] == [
        ("12125550110", "John", "fax_domain"),
        ("+1 (212) 555-0111", "Jane", "outlook"),
        ("+1 212 555 0112", "", "imceafax"),
    ]
    assert others == ["bob@allowed.example"]


def test_dedupe_keeps_the_first_and_borrows_a_name() -> None:
    faxes = [
        FaxAddress("12125550110", "", "12125550110@fax.example.com", "fax_domain"),
        FaxAddress("+1 (212) 555-0110", "Jane", "[FAX:Jane@+1 (212) 555-0110]", "outlook"),
        FaxAddress("2125550111", "", "2125550111@fax.example.com", "fax_domain"),
        FaxAddress("1-212-555-0110", "Other", "x", "fax_domain"),
    ]
    assert dedupe(faxes) == [
        FaxAddress("12125550110", "Jane", "12125550110@fax.example.com", "fax_domain"),
        FaxAddress("2125550111", "", "2125550111@fax.example.com", "fax_domain"),
    ]


# -- numbers in subjects --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Fax to +1 212 555 0110: contract", "+1 212 555 0110"),
        ("FAX: 212-555-0110", "212-555-0110"),
        ("fax +1 (212) 555-0110", "+1 (212) 555-0110"),
        ("Contract - fax to 0049 30 1234567", "0049 30 1234567"),
        ("Fax #2125550110", "2125550110"),
        ("Fax no. 212.555.0110 please", "212.555.0110"),
        ("Telefax an 030 1234567", "030 1234567"),
        ("Fax 2125550110 12 pages", "2125550110"),
        ("Fwd: Fax to 2125550110", "2125550110"),
    ],
)
def test_number_from_subject(subject: str, number: str) -> None:
    assert number_from_subject(subject) == number


@pytest.mark.parametrize(
    "subject",
    [
        "Contract",
        "Invoice 12345678 by fax",  # the number is not after "fax"
        "Fax: 2024-01-15 report",  # a date
        "Fax 15.01.2024",
        "Fax from 212-555-0110",  # a received fax, not an order to send one
        "Re: Fax to +1 212 555 0110 sent",  # a reply to a report must not refax
        "AW: Fax: 2125550110",
        "faxed 2125550110",
        "Fax #12345678901234567890",  # too many digits
        "Fax 555-01",  # too few
        "Fax 2125550110abc",
        "Fax ref 2125550110",
        "Order 2125550110 fax",
        "taxfax:2125550110",
        "Fax (212 555 0110",  # unbalanced
    ],
)
def test_no_number_in_subject(subject: str) -> None:
    assert number_from_subject(subject) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab@.:;,<>()[]"\\ =?+FAXfax123_-\r\n\t\u00e9')), max_size=80))
def test_address_functions_never_fail(value: str) -> None:
    for box in parse_address_list(value):
        parse_fax_address(box.address, box.name, fax_domains=DOMAINS)
    parse_fax_address(value, fax_domains=DOMAINS)
    number_from_subject(value)
    decode_rfc2047(value)
