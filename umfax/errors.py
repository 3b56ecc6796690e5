"""The root of umfax's exceptions.  Each layer derives its own from :class:`UmfaxError`
and translates foreign exceptions at its boundary (``raise X from exc``).

:func:`describe_error` turns any exception into the bounded text that reaches logs, the
API, ``/healthz`` and reports."""

import logging


class UmfaxError(Exception):
    """Base of every error umfax raises on purpose.

    ``str(err)`` is written for the person who has to act on it: what went wrong
    and, where there is one, what to do next.
    """


class ConfigError(UmfaxError):
    """The configuration is invalid; the message names the key."""


class StoreError(UmfaxError):
    """The store failed or refused an operation."""


class NotFound(StoreError):
    """No such job, fax or user."""


class InvalidTransition(StoreError):
    """A job cannot move from its current state to the one asked for."""


class InvalidNumber(UmfaxError):
    """A fax number could not be parsed, or dial rules refuse it."""


class MailError(UmfaxError):
    """A mail message cannot become a fax: malformed, nothing to send, not allowed.

    ``str(err)`` is what the sender is told, in plain words.
    """


class ConnectorError(UmfaxError):
    """An outside system (mail server, API) failed or refused us; retried with backoff."""


# -- error text for logs, the API, /healthz and reports ----------------------------------------

#: The most characters of error text that reach a log line, an API answer, a health snapshot
#: or a report (libraries put whole object graphs into messages: exchangelib's
#: ``MultipleObjectsReturned`` once made 10 kB log lines, repeated on every reconnect).
MAX_ERROR_TEXT = 300

_detail_logger = logging.getLogger("umfax.errors")


def shorten(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` on one line (runs of whitespace become one space) and at most ``limit``
    characters: a longer text keeps its beginning and says how much was cut."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    keep = max(0, limit - len(f"… (+{len(line)} chars)"))
    return f"{line[:keep]}… (+{len(line) - keep} chars)"[:limit]


def describe_error(exc: BaseException, limit: int = MAX_ERROR_TEXT) -> str:
    """What went wrong, bounded, for a log line's ``error``, an API message, ``/healthz``
    or a report: an :class:`UmfaxError`'s message alone (written for a person already),
    any other exception as ``Type: message``.  When the text had to be shortened, the full
    text goes to the DEBUG log (logger ``umfax.errors``)."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not break error handling
        message = ""
    if isinstance(exc, UmfaxError):
        full = message or name
    else:
        full = f"{name}: {message}" if message.strip() else name
    short = shorten(full, limit)
    if short != full and len(full) > limit:
        _detail_logger.debug("error text shortened", extra={"error_type": name, "detail": full})
    return short
