"""Exchange Online through Microsoft Graph: faxes from a mailbox (:class:`GraphIntake`),
received faxes and reports into users' mailboxes (:class:`GraphDelivery`).

Same contract as the EWS connector (:mod:`connectors.exchange`): each new message of the
watched folder is fetched as MIME (``GET …/messages/{id}/$value``), handed to ``accept``
with its Graph id as position, and only once ``accept`` has returned is it moved
(``POST …/messages/{id}/move``): to ``processed_folder`` when jobs were committed, to
``refused_folder`` when the sender was refused or nothing could be faxed.  If ``accept``
raises, the message stays and is tried again after a backoff.  A crash between commit and
move is harmless: the message is listed again, the core answers ``DUPLICATE`` and the
message is then moved.

New messages are found by a delta query on the folder (``…/mailFolders/{folder}/messages/
delta``), run every ``poll_interval`` from the last ``@odata.deltaLink``.  The delta link
is kept in the store (``connector_state``) once every message it covered is settled, so a
restart asks only for what changed since; an expired link (410) starts a full listing.

The token is fetched app-only by msal (OAuth 2.0 client-credentials grant, RFC 6749 4.4)
and cached until near its expiry; a 401 fetches a new one once; 429 and 503 honour
``Retry-After``.  msal and requests are blocking: one thread per connector.

The package: :mod:`.session` (token, HTTP, retries), :mod:`.intake`, :mod:`.delivery`; every
name is re-exported here, so ``from connectors.graph import GraphIntake`` keeps working.
"""

from __future__ import annotations

from connectors.graph.delivery import GraphDelivery, message_resource
from connectors.graph.intake import GraphIntake, PositionStore
from connectors.graph.session import (
    INLINE_BUDGET,
    MAX_RETRY_AFTER,
    SIMPLE_ATTACHMENT,
    TIMEOUT,
    UPLOAD_CHUNK,
    GraphError,
    GraphSession,
)

__all__ = [
    "INLINE_BUDGET", "MAX_RETRY_AFTER", "SIMPLE_ATTACHMENT", "TIMEOUT", "UPLOAD_CHUNK",
    "GraphDelivery", "GraphError", "GraphIntake", "GraphSession", "PositionStore", "message_resource",
]
