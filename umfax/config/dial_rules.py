"""[dial_rules]: how numbers are dialled and which may be."""

from __future__ import annotations

from pydantic import field_validator

from umfax.config.section import _Section
from umfax.dialpatterns import compile_pattern


class DialRulesConfig(_Section):
    outside_line: str = ""  # e.g. "9," to get an outside line from a PBX
    international_prefix: str = ""  # empty: the default country's (011 in NANP, 00 elsewhere)
    national_prefix: str = ""  # empty: the default country's trunk prefix (1 in NANP, 0 elsewhere)
    local_area_codes: list[str] = []  # dialled without the national prefix
    allow_international: bool = False
    allow_premium: bool = False
    blocked: list[str] = []  # E.164 prefixes or glob patterns never dialled
    allowed: list[str] = []  # exceptions to the above (e.g. one international client)
    # Numbers dialled exactly as written (PBX extensions, short codes), by pattern:
    # X any digit, Z 1-9, N 2-9, [1-5] a set, final '.' more keys; see umfax.dialpatterns.
    # Not subject to the international/premium rules, nor to outside_line; blocked applies.
    extensions: list[str] = []

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, value: list[str]) -> list[str]:
        for pattern in value:
            compile_pattern(pattern)  # ValueError names the pattern and what is wrong
        return value
