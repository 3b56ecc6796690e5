"""The root of umfax's exceptions.  Each layer derives its own from :class:`UmfaxError`
and translates foreign exceptions at its boundary (``raise X from exc``)."""


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
