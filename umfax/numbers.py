"""Fax numbers: parsing and normalising to E.164, and dial rules that turn an
E.164 number into what a line dials (outside-line digit, local, national and
international forms) or refuse it (premium rate, international, blocked)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from umfax.config import DialRulesConfig
from umfax.errors import InvalidNumber

_PREMIUM_TYPES = {PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST}

# Trunk and international prefixes where the config leaves them empty.
_NANP_REGIONS = {"US", "CA", "PR", "GU", "VI", "AS", "MP"}


def normalize(raw: str, default_country: str) -> str:
    """Return ``raw`` as E.164 (``+12125550100``), or raise :class:`InvalidNumber`."""
    text = raw.strip()
    if not text:
        raise InvalidNumber("no fax number given")
    try:
        number = phonenumbers.parse(text, default_country)
    except NumberParseException as exc:
        raise InvalidNumber(
            f"{raw!r} is not a phone number ({exc._msg}); write it as e.g. +1 212 555 0100"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        region = phonenumbers.region_code_for_number(number) or default_country
        raise InvalidNumber(
            f"{raw!r} is not a valid fax number for {region}; check the digits, and "
            "write numbers abroad with a leading + and country code"
        )
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """The international form for people: ``+1 212-555-0100``."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


@dataclass(frozen=True, slots=True)
class DialPlan:
    """Dial rules for one site."""

    rules: DialRulesConfig
    country: str

    def _matches(self, e164: str, patterns: list[str]) -> bool:
        for pattern in patterns:
            pattern = pattern.replace(" ", "").replace("-", "")
            if any(ch in pattern for ch in "*?["):
                if fnmatch.fnmatchcase(e164, pattern):
                    return True
            elif e164.startswith(pattern):
                return True
        return False

    def check(self, e164: str) -> None:
        """Raise :class:`InvalidNumber` when dial rules forbid ``e164``."""
        if self._matches(e164, self.rules.allowed):
            return
        if self._matches(e164, self.rules.blocked):
            raise InvalidNumber(f"{display(e164)} is blocked by dial_rules.blocked")
        number = phonenumbers.parse(e164, None)
        home_code = phonenumbers.country_code_for_region(self.country)
        if number.country_code != home_code and not self.rules.allow_international:
            raise InvalidNumber(
                f"{display(e164)} is an international number; international faxing is off "
                "(set dial_rules.allow_international, or list the number in dial_rules.allowed)"
            )
        if phonenumbers.number_type(number) in _PREMIUM_TYPES and not self.rules.allow_premium:
            raise InvalidNumber(
                f"{display(e164)} is a premium-rate number; set dial_rules.allow_premium "
                "or list it in dial_rules.allowed to fax it"
            )

    def dial_string(self, e164: str) -> str:
        """What the modem dials for ``e164`` (checked against the rules first)."""
        self.check(e164)
        number = phonenumbers.parse(e164, None)
        national = phonenumbers.national_significant_number(number)
        home_code = phonenumbers.country_code_for_region(self.country)
        if number.country_code != home_code:
            prefix = self.rules.international_prefix or ("011" if self.country in _NANP_REGIONS else "00")
            digits = f"{prefix}{number.country_code}{national}"
        elif any(national.startswith(code) for code in self.rules.local_area_codes):
            digits = national
        else:
            trunk = self.rules.national_prefix or ("1" if self.country in _NANP_REGIONS else "0")
            digits = f"{trunk}{national}"
        return f"{self.rules.outside_line}{digits}"
