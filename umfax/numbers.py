"""Fax destinations: what a person wrote, read as a number a line can dial, and the dial
rules that turn it into the digits a line dials (outside-line digit, local, national and
international forms) or refuse it (blocked, international, premium rate).

A destination is one of three kinds (:class:`DestinationKind`), told apart by the form a
job stores in ``jobs.number``:

- a phone number on the public network, stored in E.164 (``+12125550100``).  Any
  *possible* number is accepted (right length for its country code): whether it is in
  use is the phone network's business, and whether it may be dialled is the dial rules'.
  libphonenumber's metadata lags behind newly opened ranges, so it never decides alone;
- a PBX extension or short code (``2001``, ``*9*``), stored and dialled exactly as
  written, when ``[dial_rules] extensions`` lists a pattern it matches (syntax in
  :mod:`umfax.dialpatterns`);
- a SIP URI (``sip:2001@pbx.example.com``): recognised so that it is refused with a clear
  reason until SIP lines exist; then it is dialled by a SIP line as written.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import (
    CountryCodeSource,
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
)

from umfax.config import DialRulesConfig
from umfax.dialpatterns import ExtensionPatterns, squeeze
from umfax.errors import InvalidNumber

_PREMIUM_TYPES = {PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST}

# Trunk and international prefixes where the config leaves them empty.
_NANP_REGIONS = {"US", "CA", "PR", "GU", "VI", "AS", "MP"}

#: What people write between the digits of a phone number.
_PUNCTUATION = frozenset("+-.()/ \t\u00a0")
_LETTERS = re.compile(r"[^\W\d_]+")
_SIP_SCHEMES = ("sip:", "sips:")
_EXAMPLE = "+1 212 555 0100"
_EXTENSION_HINT = "an internal extension is dialled only when [dial_rules] extensions lists a pattern for it"


class DestinationKind(StrEnum):
    PHONE = "phone"  # the public network, stored as E.164
    EXTENSION = "extension"  # a PBX extension or short code, stored and dialled as written
    SIP = "sip"  # a SIP URI: recognised, not dialled until there are SIP lines


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a fax goes, in the form a job stores (``jobs.number``)."""

    kind: DestinationKind
    address: str  # E.164, the extension's keys, or the URI
    rule: str = ""  # for an extension: the pattern it matched

    @classmethod
    def from_stored(cls, address: str) -> Destination:
        """The destination a stored ``jobs.number`` stands for."""
        if address.startswith("+"):
            return cls(DestinationKind.PHONE, address)
        if address.lower().startswith(_SIP_SCHEMES):
            return cls(DestinationKind.SIP, address)
        return cls(DestinationKind.EXTENSION, address)

    def __str__(self) -> str:
        return self.address


# -- phone numbers -----------------------------------------------------------------------------


def _refusal(raw: str, reason: str, advice: str) -> InvalidNumber:
    return InvalidNumber(f"{raw!r} is not a valid fax number: {reason}; {advice}")


def _bad_characters(text: str) -> str | None:
    """Why ``text`` holds characters no phone number has, or None."""
    word = _LETTERS.search(text)
    letters = word.group(0) if word else ""
    others = "".join(
        dict.fromkeys(
            c for c in text if not c.isalpha() and c not in _PUNCTUATION and unicodedata.category(c) != "Nd"
        )
    )
    if letters and others:
        return f"it contains letters ({letters!r}) and {others!r}"
    if letters:
        return f"it contains letters ({letters!r})"
    if others:
        return f"it contains {others!r}, which is not part of a phone number"
    return None


def _lengths(country_code: int) -> tuple[int, ...]:
    """The possible lengths of national numbers under ``country_code`` (empty if unknown)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None or metadata.general_desc is None:
        return ()
    return tuple(metadata.general_desc.possible_length or ())


def _say_lengths(lengths: tuple[int, ...]) -> str:
    if not lengths:
        return "another length"
    if len(lengths) == 1:
        return f"{lengths[0]}"
    if lengths == tuple(range(lengths[0], lengths[-1] + 1)):
        return f"{lengths[0]} to {lengths[-1]}"
    return ", ".join(str(n) for n in lengths[:-1]) + f" or {lengths[-1]}"


def _national_example(country: str) -> str:
    example = phonenumbers.example_number(country)
    if example is None:
        return ""
    return phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)


def _length_refusal(raw: str, number: PhoneNumber, result: int, country: str) -> InvalidNumber:
    """Why a parsed number cannot be a number: too short, too long or a wrong length."""
    digits = len(phonenumbers.national_significant_number(number))
    lengths = _lengths(number.country_code or 0)
    written_abroad = number.country_code_source in (
        CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN,
        CountryCodeSource.FROM_NUMBER_WITH_IDD,
    )
    where = f"after +{number.country_code}" if written_abroad else f"for {country}"
    have = f"numbers there have {_say_lengths(lengths)} digits"
    if result == ValidationResult.IS_POSSIBLE_LOCAL_ONLY and not written_abroad:
        example = _national_example(country)
        return _refusal(
            raw,
            "too short: a local number without its area code",
            f"add the area code{f' (e.g. {example})' if example else ''}",
        )
    if result in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        advice = "check the digits"
        if not written_abroad:
            example = _national_example(country)
            advice = (
                f"include the area code{f' (e.g. {example})' if example else ''}; numbers abroad "
                f"start with + and the country code; {_EXTENSION_HINT}"
            )
        return _refusal(raw, f"too short ({digits} digits {where}; {have})", advice)
    if result == ValidationResult.TOO_LONG:
        advice = "check for extra digits"
        if not written_abroad:
            advice += "; numbers abroad start with + and the country code"
        return _refusal(raw, f"too long ({digits} digits {where}; {have})", advice)
    return _refusal(raw, f"{digits} digits {where}, but {have}", "check the digits")


def normalize(raw: str, default_country: str) -> str:
    """``raw`` as E.164 (``+12125550100``) when it is a possible phone number, numbers
    without a country code read as in ``default_country``; else :class:`InvalidNumber`
    saying what is wrong (no number, characters, country code, length) and what to do."""
    text = raw.strip()
    if text.lower().startswith("tel:"):  # RFC 3966: the number is what follows
        text = text[4:].strip()
    if not text:
        raise InvalidNumber("no fax number given")
    bad = _bad_characters(text)
    if bad is not None:
        advice = f"write the digits, e.g. {_EXAMPLE}"
        if any(c in text for c in "*#"):
            advice = f"* and # are dialled only as extensions: {_EXTENSION_HINT}"
        raise _refusal(raw, bad, advice)
    try:
        number = phonenumbers.parse(text, default_country, keep_raw_input=True)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            digits = "".join(c for c in text if c.isdigit())[:3]
            raise _refusal(
                raw,
                f"unknown country code (no country code begins {digits!r})",
                "write the country code after the + (e.g. +44 for the UK, +49 for Germany)",
            ) from exc
        if exc.error_type == NumberParseException.TOO_LONG:
            raise _refusal(raw, "too long (more than 17 digits)", "check for extra digits") from exc
        if exc.error_type in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
            raise _refusal(raw, "too short", f"write the whole number, e.g. {_EXAMPLE}") from exc
        raise _refusal(raw, "it holds no phone number", f"write it as e.g. {_EXAMPLE}") from exc
    result = phonenumbers.is_possible_number_with_reason(number)
    if result == ValidationResult.INVALID_COUNTRY_CODE:
        raise _refusal(
            raw,
            f"unknown country code (+{number.country_code})",
            "write the country code after the + (e.g. +44 for the UK, +49 for Germany)",
        )
    if result != ValidationResult.IS_POSSIBLE:
        raise _length_refusal(raw, number, result, default_country)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def display(number: str) -> str:
    """A stored destination for people: ``+1 212-555-0100``; extensions and URIs as they are."""
    if not number.startswith("+"):
        return number
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException:
        return number
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


# -- dial rules --------------------------------------------------------------------------------


def _matching(address: str, patterns: list[str]) -> str | None:
    """The first of ``patterns`` (prefixes, or globs when they hold ``*?[``) that matches."""
    for pattern in patterns:
        compact = pattern.replace(" ", "").replace("-", "")
        if any(ch in compact for ch in "*?["):
            if fnmatch.fnmatchcase(address, compact):
                return pattern
        elif address.startswith(compact):
            return pattern
    return None


class DialPlan:
    """Dial rules for one site: what a written destination is, whether it may be dialled,
    and what a line dials for it."""

    __slots__ = ("country", "extensions", "rules")

    def __init__(self, rules: DialRulesConfig, country: str) -> None:
        self.rules = rules
        self.country = country
        self.extensions = ExtensionPatterns(rules.extensions)

    def destination(self, raw: str) -> Destination:
        """What ``raw`` names, without the rules' verdict: an extension when a pattern of
        ``[dial_rules] extensions`` matches it, else a phone number (:func:`normalize`)."""
        rule = self.extensions.match(raw)
        if rule is not None:
            keys = squeeze(raw)
            if len(keys) > 32:
                raise _refusal(
                    raw, f"too long for an extension ({len(keys)} keys, at most 32)", "check the keys"
                )
            return Destination(DestinationKind.EXTENSION, keys, rule)
        if raw.strip().lower().startswith(_SIP_SCHEMES):
            raise InvalidNumber(
                f"{raw.strip()!r} is a SIP address; umfax faxes phone numbers (over modems or SIP "
                "trunks), not SIP addresses"
            )
        return Destination(DestinationKind.PHONE, normalize(raw, self.country))

    def resolve(self, raw: str) -> Destination:
        """:meth:`destination`, checked against the rules: what a job may be queued to."""
        destination = self.destination(raw)
        self.check(destination)
        return destination

    def check(self, destination: Destination | str) -> None:
        """Raise :class:`InvalidNumber` when the rules forbid ``destination`` (a stored
        ``jobs.number`` or a :class:`Destination`), naming the rule."""
        if isinstance(destination, str):
            destination = Destination.from_stored(destination)
        address = destination.address
        if _matching(address, self.rules.allowed) is not None:
            return
        blocked = _matching(address, self.rules.blocked)
        if blocked is not None:
            raise InvalidNumber(f"{display(address)} is blocked by dial_rules.blocked ({blocked!r})")
        if destination.kind is DestinationKind.SIP:
            raise InvalidNumber(f"{address} is a SIP address; umfax faxes phone numbers, not SIP addresses")
        if destination.kind is DestinationKind.EXTENSION:
            return  # the PBX's own numbers: neither international nor premium rate
        number = phonenumbers.parse(address, None)
        home_code = phonenumbers.country_code_for_region(self.country)
        if number.country_code != home_code and not self.rules.allow_international:
            raise InvalidNumber(
                f"{display(address)} is an international number; international faxing is off "
                "(set dial_rules.allow_international, or list the number in dial_rules.allowed)"
            )
        if phonenumbers.number_type(number) in _PREMIUM_TYPES and not self.rules.allow_premium:
            raise InvalidNumber(
                f"{display(address)} is a premium-rate number; set dial_rules.allow_premium "
                "or list it in dial_rules.allowed to fax it"
            )

    def dial_string(self, number: str, *, e164: bool = False) -> str:
        """What the line dials for the stored ``number`` (checked against the rules first):
        an extension as written; a phone number in local, national or international form
        after ``outside_line`` -- or, with ``e164`` (a SIP trunk's usual form), as stored."""
        destination = Destination.from_stored(number)
        self.check(destination)
        if destination.kind is not DestinationKind.PHONE or e164:
            return destination.address
        parsed = phonenumbers.parse(number, None)
        national = phonenumbers.national_significant_number(parsed)
        home_code = phonenumbers.country_code_for_region(self.country)
        if parsed.country_code != home_code:
            prefix = self.rules.international_prefix or ("011" if self.country in _NANP_REGIONS else "00")
            digits = f"{prefix}{parsed.country_code}{national}"
        elif any(national.startswith(code) for code in self.rules.local_area_codes):
            digits = national
        else:
            trunk = self.rules.national_prefix or ("1" if self.country in _NANP_REGIONS else "0")
            digits = f"{trunk}{national}"
        return f"{self.rules.outside_line}{digits}"
