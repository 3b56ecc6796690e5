"""Extension patterns: which short numbers a PBX dials as written (``[dial_rules] extensions``).

The syntax is the one PBX administrators know from Asterisk dial plans:

``0``-``9``, ``*``, ``#``
    the key itself (``*`` and ``#`` are phone keys here, not wildcards)
``X``
    any digit 0-9; ``Z`` any digit 1-9; ``N`` any digit 2-9 (upper or lower case)
``[1-5]``, ``[137]``, ``[1-37-9]``
    one digit of the set
``.``
    at the end only: one or more further keys (digits, ``*``, ``#``)

Spaces and dashes in a pattern and in the number written are ignored.  A pattern matches
the whole number: ``2XXX`` matches ``2001`` but not ``20011``; ``*9*`` matches exactly
``*9*``, and ``*9*.`` also ``*9*2001``.
"""

from __future__ import annotations

import re

#: Keys a number dialled as an extension may hold.
EXTENSION_KEYS = frozenset("0123456789*#")
#: Characters people write between digits and nobody dials.
SEPARATORS = str.maketrans("", "", " \t-\u00a0")

_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}
_SET = re.compile(r"\[([0-9](?:-[0-9])?)+\]")


def squeeze(text: str) -> str:
    """``text`` without surrounding space and without the separators people write."""
    return text.strip().translate(SEPARATORS)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression for one extension pattern; ``ValueError`` saying what is wrong."""
    text = "".join(pattern.split())  # dashes stay: they are ranges inside [...]
    if not text.replace("-", ""):
        raise ValueError("an extension pattern is empty")
    parts: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "-":
            pass  # a separator outside a set
        elif char in EXTENSION_KEYS:
            parts.append(re.escape(char))
        elif char.upper() in _CLASSES:
            parts.append(_CLASSES[char.upper()])
        elif char == "[":
            match = _SET.match(text, i)
            if match is None:
                raise ValueError(
                    f"extension pattern {pattern!r}: a set is digits and ranges in brackets, "
                    "e.g. [1-5] or [137]"
                )
            parts.append(match.group(0))
            i = match.end()
            continue
        elif char == "." and i == len(text) - 1:
            parts.append("[0-9*#]+")
        elif char == ".":
            raise ValueError(f"extension pattern {pattern!r}: '.' (any further keys) may only end a pattern")
        else:
            raise ValueError(
                f"extension pattern {pattern!r}: {char!r} is not allowed; use digits, * and #, "
                "X (any digit), Z (1-9), N (2-9), [1-5] and a final '.'"
            )
        i += 1
    try:
        return re.compile("".join(parts))
    except re.error as exc:  # a reversed range such as [5-1]
        raise ValueError(f"extension pattern {pattern!r}: {exc}") from exc


class ExtensionPatterns:
    """A list of extension patterns, compiled once."""

    __slots__ = ("_compiled",)

    def __init__(self, patterns: list[str]) -> None:
        self._compiled = [(pattern, compile_pattern(pattern)) for pattern in patterns]

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def match(self, written: str) -> str | None:
        """The pattern that ``written`` (separators ignored) matches, or None."""
        text = squeeze(written)
        if not text or not set(text) <= EXTENSION_KEYS:
            return None
        for pattern, compiled in self._compiled:
            if compiled.fullmatch(text):
                return pattern
        return None
