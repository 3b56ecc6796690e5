from __future__ import annotations

import pytest
from pydantic import ValidationError

from umfax.config import DialRulesConfig
from umfax.errors import InvalidNumber
from umfax.numbers import Destination, DestinationKind, DialPlan, display, normalize


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(212) 555-0100", "+12125550100"),
        ("+1 212 555 0100", "+12125550100"),
        ("1-212-555-0100", "+12125550100"),
        ("+44 20 7946 0000", "+442079460000"),
        ("tel:+1-212-555-0100", "+12125550100"),
    ],
)
def test_normalize(raw: str, e164: str) -> None:
    assert normalize(raw, "US") == e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        # Possible but unknown to libphonenumber's metadata: the 555 exchange, ranges not yet
        # assigned or newly opened, numbers a private network routes.  The phone network
        # decides whether they exist; dial rules whether they may be dialled.
        ("+1 555 000 1002", "+15550001002"),
        ("+1 (555) 123-4567", "+15551234567"),
        ("555 000 1002", "+15550001002"),
        ("+49 1234", "+491234"),
        ("+61 2 1234 567", "+6121234567"),
        ("+55 11 1234 567", "+55111234567"),
    ],
)
def test_possible_numbers_the_metadata_does_not_know_are_accepted(raw: str, e164: str) -> None:
    assert normalize(raw, "US") == e164


def test_unknown_numbers_dial_like_any_other() -> None:
    plan = DialPlan(DialRulesConfig(outside_line="9,"), "US")
    assert plan.resolve("+1 555 000 1002") == Destination(DestinationKind.PHONE, "+15550001002")
    assert plan.dial_string("+15550001002") == "9,15550001002"


@pytest.mark.parametrize("raw", ["", "555", "hello", "+999 123", "+1 212 555 0100 0000 11"])
def test_invalid_numbers_are_refused_with_advice(raw: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalize(raw, "US")
    assert str(info.value)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", ["no fax number given"]),
        ("   ", ["no fax number given"]),
        ("555-12", ["too short", "5 digits for US", "10 digits", "area code", "extensions"]),
        ("+1 212", ["too short", "3 digits after +1", "10 digits", "check the digits"]),
        ("555 0100", ["too short", "without its area code", "add the area code"]),
        ("+1 212 555 01000", ["too long", "11 digits after +1", "10 digits", "extra digits"]),
        ("+41 44 123 45 678", ["10 digits after +41", "9 or 12 digits"]),
        ("+999 123", ["unknown country code", "'999'", "country code after the +"]),
        ("+1 212 555 0100 x12", ["letters ('x')", "write the digits"]),
        ("1-800-FLOWERS", ["letters ('FLOWERS')"]),
        ("+1 212 555;0100", ["';'", "not part of a phone number"]),
        ("*9*", ["'*'", "extensions"]),
        ("hello", ["letters ('hello')"]),
    ],
)
def test_each_refusal_says_what_is_wrong(raw: str, says: list[str]) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalize(raw, "US")
    message = str(info.value)
    for words in says:
        assert words in message, message
    if raw.strip().startswith("+"):
        # the number has a + and a country code: never tell them to add one
        assert "leading +" not in message and "start with +" not in message, message


def test_national_number_in_another_country() -> None:
    assert normalize("030 901820", "DE") == "+4930901820"


def test_dial_strings() -> None:
    plan = DialPlan(
        DialRulesConfig(outside_line="9,", local_area_codes=["212"], allow_international=True), "US"
    )
    assert plan.dial_string("+12125550100") == "9,2125550100"
    assert plan.dial_string("+12025550100") == "9,12025550100"
    assert plan.dial_string("+442079460000") == "9,011442079460000"
    german = DialPlan(DialRulesConfig(allow_international=True), "DE")
    assert german.dial_string("+4930901820") == "030901820"
    assert german.dial_string("+12125550100") == "0012125550100"


def test_secure_defaults_block_international_and_premium() -> None:
    plan = DialPlan(DialRulesConfig(), "US")
    with pytest.raises(InvalidNumber, match="international"):
        plan.check("+442079460000")
    with pytest.raises(InvalidNumber, match="premium"):
        plan.check("+19005551234")
    plan.check("+12125550100")


def test_blocked_and_allowed_patterns() -> None:
    plan = DialPlan(DialRulesConfig(blocked=["+1212555*"], allowed=["+12125550100", "+44 20"]), "US")
    with pytest.raises(InvalidNumber, match="blocked"):
        plan.check("+12125550199")
    plan.check("+12125550100")
    plan.check("+442079460000")


def test_a_refusal_names_the_rule_that_blocks() -> None:
    plan = DialPlan(DialRulesConfig(blocked=["+1900", "+1212555*"]), "US")
    with pytest.raises(InvalidNumber) as info:
        plan.resolve("(212) 555-0199")
    assert str(info.value) == "+1 212-555-0199 is blocked by dial_rules.blocked ('+1212555*')"


# -- extensions -------------------------------------------------------------------------------

PBX = DialRulesConfig(outside_line="9,", extensions=["2XXX", "*9*", "#31#.", "[3-4]N"], blocked=["2999"])


@pytest.mark.parametrize(
    ("raw", "stored", "rule"),
    [
        ("2001", "2001", "2XXX"),
        (" 2-001 ", "2001", "2XXX"),
        ("*9*", "*9*", "*9*"),
        ("#31#2125550100", "#31#2125550100", "#31#."),
        ("32", "32", "[3-4]N"),
    ],
)
def test_extensions_are_dialled_exactly_as_written(raw: str, stored: str, rule: str) -> None:
    plan = DialPlan(PBX, "US")
    destination = plan.resolve(raw)
    assert destination == Destination(DestinationKind.EXTENSION, stored, rule)
    assert plan.dial_string(destination.address) == stored  # no outside line, no prefixes
    assert display(stored) == stored


def test_what_no_pattern_matches_is_a_phone_number_or_refused() -> None:
    plan = DialPlan(PBX, "US")
    assert plan.resolve("212 555 0100").kind is DestinationKind.PHONE
    for raw in ("20011", "3001", "31", "*9*1"):
        with pytest.raises(InvalidNumber, match="not a valid fax number"):
            plan.resolve(raw)


def test_extensions_skip_international_and_premium_but_not_blocked() -> None:
    plan = DialPlan(DialRulesConfig(extensions=["00XX", "900X"], blocked=["0099"]), "US")
    assert plan.resolve("0044").address == "0044"  # not read as an international number
    assert plan.resolve("9001").address == "9001"
    with pytest.raises(InvalidNumber) as info:
        plan.resolve("0099")
    assert str(info.value) == "0099 is blocked by dial_rules.blocked ('0099')"
    with pytest.raises(InvalidNumber, match="blocked"):
        plan.dial_string("0099")  # rules are checked again when dialling


def test_extension_patterns_are_checked_when_the_config_is_read() -> None:
    for bad, says in (
        ("2Y", "'Y' is not allowed"),
        ("2.X", "may only end a pattern"),
        ("2[9-", "a set is digits"),
        ("[5-1]", "[5-1]"),
        ("", "empty"),
    ):
        with pytest.raises(ValidationError, match=says.replace("[", r"\[").replace(".", r"\.")):
            DialRulesConfig(extensions=[bad])


def test_a_short_number_without_an_extension_rule_says_how_to_add_one() -> None:
    with pytest.raises(InvalidNumber, match=r"\[dial_rules\] extensions"):
        DialPlan(DialRulesConfig(), "US").resolve("2001")


# -- SIP destinations: recognised, not dialled yet -------------------------------------------------


def test_sip_uris_are_recognised_and_refused_until_there_are_sip_lines() -> None:
    plan = DialPlan(DialRulesConfig(), "US")
    with pytest.raises(InvalidNumber, match="SIP address"):
        plan.resolve("sip:2001@pbx.example.com")
    stored = Destination.from_stored("sip:2001@pbx.example.com")
    assert stored.kind is DestinationKind.SIP
    with pytest.raises(InvalidNumber, match="not SIP addresses"):
        plan.check(stored)


def test_stored_forms() -> None:
    assert Destination.from_stored("+12125550100").kind is DestinationKind.PHONE
    assert Destination.from_stored("2001").kind is DestinationKind.EXTENSION
    assert str(Destination.from_stored("*9*")) == "*9*"
