"""Error text that reaches logs, the API, /healthz and reports is bounded and says what
went wrong: umfax.errors.describe_error and the log formatters' traceback bound."""

from __future__ import annotations

import logging
import sys

import pytest

from umfax.errors import MAX_ERROR_TEXT, ConnectorError, describe_error, shorten
from umfax.logs import MAX_TRACEBACK_LINE, JsonFormatter, TextFormatter


class MultipleObjectsReturned(Exception):
    """Like exchangelib's: its message is the repr of every object found."""


HUGE = "Expected result length 1, but got [" + ", ".join(
    f"Inbox(Root(<exchangelib.account.Account object at 0x7f{n:010x}>, 'root', ...), 'Inbox {n}')"
    for n in range(150)
) + "]"


def test_a_foreign_error_is_its_type_and_message() -> None:
    assert describe_error(ValueError("bad value")) == "ValueError: bad value"
    assert describe_error(TimeoutError()) == "TimeoutError"
    assert describe_error(KeyError("x")) == "KeyError: 'x'"


def test_an_umfax_error_is_its_message_alone() -> None:
    assert describe_error(ConnectorError("login refused: check the password")) == (
        "login refused: check the password"
    )
    assert describe_error(ConnectorError()) == "ConnectorError"


def test_a_huge_message_is_cut_to_the_bound_on_one_line_and_the_whole_goes_to_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert len(HUGE) > 10_000
    with caplog.at_level(logging.DEBUG, logger="umfax.errors"):
        text = describe_error(MultipleObjectsReturned(HUGE))
    assert len(text) <= MAX_ERROR_TEXT
    assert text.startswith("MultipleObjectsReturned: Expected result length 1, but got [Inbox(Root(")
    assert text.endswith(" chars)") and "\n" not in text
    [debug] = [r for r in caplog.records if r.name == "umfax.errors"]
    assert debug.levelno == logging.DEBUG and debug.detail == f"MultipleObjectsReturned: {HUGE}"  # type: ignore[attr-defined]


def test_a_short_message_is_not_logged_again(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="umfax.errors"):
        describe_error(OSError("line one\n   line two"))
    assert describe_error(OSError("line one\n   line two")) == "OSError: line one line two"
    assert caplog.records == []


@pytest.mark.parametrize("limit", [30, 60, MAX_ERROR_TEXT])
def test_shorten_keeps_the_beginning_and_says_how_much_was_cut(limit: int) -> None:
    line = ("word " * 200).strip()
    text = shorten("word " * 200, limit)
    head, _, cut = text.partition("… (+")
    assert len(text) <= limit and line.startswith(head) and head.startswith("word word")
    assert cut == f"{len(line) - len(head)} chars)"
    assert shorten("  a\tb\n c ", limit) == "a b c"


def test_a_broken_str_still_gives_the_type() -> None:
    class Odd(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert describe_error(Odd()) == "Odd"


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_a_traceback_in_a_log_line_has_bounded_lines(formatter: logging.Formatter) -> None:
    try:
        raise MultipleObjectsReturned(HUGE)
    except MultipleObjectsReturned:
        record = logging.LogRecord("t", logging.WARNING, __file__, 1, "failed", None, sys.exc_info())
    out = formatter.format(record)
    assert "MultipleObjectsReturned: Expected result length 1" in out
    assert len(out) < 3 * MAX_TRACEBACK_LINE + 1000
