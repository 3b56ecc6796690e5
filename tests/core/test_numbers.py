from __future__ import annotations

import pytest

from umfax.config import DialRulesConfig
from umfax.errors import InvalidNumber
from umfax.numbers import DialPlan, normalize


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(212) 555-0100", "+12125550100"),
        ("+1 212 555 0100", "+12125550100"),
        ("1-212-555-0100", "+12125550100"),
        ("+44 20 7946 0000", "+442079460000"),
    ],
)
def test_normalize(raw: str, e164: str) -> None:
    assert normalize(raw, "US") == e164


@pytest.mark.parametrize("raw", ["", "555", "hello", "+1 (555) 123-4567", "+999 123"])
def test_invalid_numbers_are_refused_with_advice(raw: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        normalize(raw, "US")
    assert str(info.value)


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
