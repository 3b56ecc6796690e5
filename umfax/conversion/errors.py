"""Errors of the conversion layer.  ``str(err)`` tells the sender what to do."""

from __future__ import annotations

from umfax.errors import UmfaxError


class ConversionError(UmfaxError):
    """A document could not be turned into fax pages (or back)."""


class UnsupportedDocument(ConversionError):
    """The content is of a type umfax cannot fax."""


class BrokenDocument(ConversionError):
    """The content claims a known type but cannot be read (truncated, corrupt)."""


class EncryptedDocument(ConversionError):
    """The document is password protected."""


class DocumentTooLarge(ConversionError):
    """A limit (bytes, pages, pixels) was exceeded."""


class ToolMissing(ConversionError):
    """An external program or resource needed for this input is not installed."""


class ConverterTimeout(ConversionError):
    """An external converter did not finish in time."""


class ConversionStopped(ConversionError):
    """The server is stopping: the conversion was abandoned, through no fault of the
    document (the job goes back to the queue, it does not fail)."""


class CodingError(ConversionError):
    """Fax coded data (MH/MR/MMR) could not be coded or decoded."""
