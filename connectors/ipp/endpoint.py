"""The printer behind an HTTP server: request bytes and who sent them in, response bytes out.

The HTTP side (umfax/api/ipp.py) authenticates and reads the body; this decodes it
(bounded, :class:`~connectors.ipp.codec.Limits`), lets the printer answer under one lock
(its job table is not thread-safe; operations are short: a fax submission is a commit),
and encodes the answer.  A request that cannot be read gets an IPP error response."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from connectors.ipp.codec import IppCodecError, Limits, Message, decode, encode
from connectors.ipp.constants import Delimiter, Operation, Status
from connectors.ipp.printer import FaxOutPrinter, Requester, response

logger = logging.getLogger(__name__)

#: Operations anyone may ask without signing in: clients query the printer before printing.
ANONYMOUS = frozenset({Operation.GET_PRINTER_ATTRIBUTES, Operation.IDENTIFY_PRINTER})


class IppEndpoint:
    def __init__(
        self,
        printer: FaxOutPrinter,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.printer, self.limits, self.clock = printer, limits or Limits(), clock
        self._lock = threading.Lock()

    def respond(
        self,
        body: bytes,
        user: str | None,
        requesting_user: Callable[[str], str | None] | None,
        printer_uri: str,
    ) -> bytes | None:
        """The IPP response to ``body``; None when the request needs a signed-in user.

        ``user``: who signed in (None: nobody); ``requesting_user`` maps a request's
        ``requesting-user-name`` to a user when the client's network is trusted."""
        try:
            request = decode(body, self.limits)
        except IppCodecError as exc:
            logger.info("unreadable ipp request", extra={"status": exc.status.name, "reason": exc.message})
            bare = Message(exc.version, 0, exc.request_id, [])
            return encode(response(bare, exc.status, exc.message))
        if user is None and requesting_user is not None:
            given = request.attribute(Delimiter.OPERATION, "requesting-user-name")
            names = given.strings() if given is not None else []
            user = requesting_user(names[0]) if names else None
        if user is None:
            if request.code not in ANONYMOUS:
                return None
            user = ""
        try:
            with self._lock:
                answer = self.printer.handle(request, Requester(user, printer_uri, self.clock()))
            return encode(answer)
        except Exception:  # a fault of ours: an IPP error, not a dropped connection clients retry
            logger.exception("ipp request failed", extra={"operation": request.code})
            return encode(
                response(request, Status.INTERNAL_ERROR, "the fax printer failed; see the server log")
            )
