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
"""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import msal
import requests

from connectors.exchange import FAX_ITEM_CLASS, Accept
from connectors.intake_thread import IntakeThread
from umfax.config import GraphAccountConfig, GraphConnectorConfig, GraphDeliveryConfig, secret
from umfax.errors import ConnectorError, StoreError, UmfaxError, describe_error
from umfax.mail.ports import MailRef

logger = logging.getLogger(__name__)

TIMEOUT = 30.0  # seconds per HTTP request
MAX_RETRY_AFTER = 120.0  # never wait longer than this for one Retry-After
UPLOAD_CHUNK = 10 * 320 * 1024  # upload session chunks: a multiple of 320 KiB (Graph's rule)
SIMPLE_ATTACHMENT = 5 * 512 * 1024  # larger attachments go through an upload session (base64 of
# this, 3.3 MB, keeps one POST under Graph's 4 MB request limit)
INLINE_BUDGET = 2 * 1024 * 1024  # attachments up to this total ride in the create request


class PositionStore(Protocol):
    """Where a connector keeps its place (the store's connector state, handed in by ``umfax.composition``)."""

    def get(self, key: str) -> str: ...
    def put(self, key: str, value: str) -> None: ...
    def forget(self, key: str) -> None: ...


class GraphError(ConnectorError):
    """Graph or the token endpoint answered with an error."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _odata_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', '')}: {error.get('message', '')}"
    if isinstance(error, str):
        return f"{error}: {str(body.get('error_description', ''))[:200]}"
    return response.text[:200]


class _Session(requests.Session):
    """A requests Session whose ``verify`` and timeout hold for every request, msal's too.

    requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify`` (psf/requests#3829),
    so a ``ca_file`` set on the session alone is ignored wherever that variable is set."""

    def __init__(self, verify: bool | str, timeout: float) -> None:
        super().__init__()
        self.verify = verify
        self._timeout = timeout

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


class GraphSession:
    """Authenticated Graph calls for one app registration: token (msal), 401, 429/503, TLS.

    One session serves any number of mailboxes; msal keeps the token until it is near its
    expiry.  Not thread-safe: one per thread."""

    def __init__(self, config: GraphAccountConfig, key: str, stop: threading.Event) -> None:
        self.config = config
        self._key = key
        self._stop = stop
        self._verify: bool | str = config.tls_verify
        if config.tls_verify and config.ca_file:
            self._verify = str(config.ca_file)
        self._http = _Session(self._verify, TIMEOUT)
        self._app: msal.ConfidentialClientApplication | None = None
        graph = urlsplit(config.graph_url)
        self._scope = f"{graph.scheme}://{graph.netloc}/.default"
        self.base = config.graph_url.rstrip("/")

    def user(self, mailbox: str) -> str:
        return f"{self.base}/users/{quote(mailbox)}"

    def close(self) -> None:
        self._http.close()

    def fetch_token(self, *, fresh: bool = False) -> str:
        """An access token (msal's cached one unless ``fresh``); raises :class:`GraphError`."""
        cfg = self.config
        where = f"{cfg.authority_host.rstrip('/')}/{cfg.tenant_id}"
        try:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    cfg.client_id,
                    client_credential=secret(cfg.client_secret_env, f"{self._key}.client_secret_env"),
                    authority=where,
                    instance_discovery=False,
                    http_client=self._http,
                )
            if fresh:
                self._app.remove_tokens_for_client()
            result = self._app.acquire_token_for_client(scopes=[self._scope])
        except UmfaxError:
            raise
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(_untrusted(where)) from exc
        except requests.RequestException as exc:
            raise ConnectorError(f"{urlsplit(where).netloc}: {exc.__class__.__name__}") from exc
        except ValueError as exc:  # msal: the tenant's OpenID configuration could not be read
            raise GraphError(
                f"Entra ID tenant {cfg.tenant_id} not found at {where} ({describe_error(exc)}): "
                "check tenant_id"
            ) from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            error = result.get("error", "no token") if isinstance(result, dict) else "no token"
            description = str(result.get("error_description", ""))[:200] if isinstance(result, dict) else ""
            raise GraphError(
                f"token for client {cfg.client_id} in tenant {cfg.tenant_id} refused "
                f"({error}: {description}): check tenant_id, client_id and the secret in the "
                f"environment variable {cfg.client_secret_env}"
            )
        return token

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One Graph request: a new token once on 401, Retry-After honoured on 429/503."""
        token = self.fetch_token()
        renewed = False
        status = 0
        for _ in range(5):
            headers = {"Authorization": f"Bearer {token}"}
            response = self._send(method, url, headers=headers, **kwargs)
            if response.status_code == 401 and not renewed:
                renewed = True
                token = self.fetch_token(fresh=True)
                continue
            status = response.status_code
            if status in (429, 503):
                wait = _retry_after(response)
                logger.info("graph throttled", extra={"status": response.status_code, "retry_in": wait})
                if self._stop.wait(wait):
                    break
                continue
            if response.status_code >= 400:
                raise GraphError(
                    f"{method} {url.removeprefix(self.base)}: HTTP {response.status_code} "
                    f"{_odata_error(response)}",
                    response.status_code,
                )
            return response
        raise GraphError(f"{method} {url.removeprefix(self.base)}: still HTTP {status} after retries", status)

    def upload(self, url: str, content: bytes) -> None:
        """PUT ``content`` to an upload session's URL in chunks (the URL is the credential:
        no Authorization header)."""
        total = len(content)
        for first in range(0, total, UPLOAD_CHUNK):
            chunk = content[first : first + UPLOAD_CHUNK]
            headers = {"Content-Range": f"bytes {first}-{first + len(chunk) - 1}/{total}"}
            response = self._send("PUT", url, data=chunk, headers=headers)
            if response.status_code not in (200, 201, 202):
                raise GraphError(
                    f"attachment upload: HTTP {response.status_code} {_odata_error(response)}",
                    response.status_code,
                )

    def folder_id(self, mailbox: str, name: str, *, create: bool) -> str:
        """A well-known folder name ("inbox") or a top-level folder's display name."""
        user = self.user(mailbox)
        try:
            return str(self.call("GET", f"{user}/mailFolders/{quote(name)}").json()["id"])
        except GraphError as exc:
            if exc.status not in (400, 404):
                raise
        url: str | None = f"{user}/mailFolders?$top=100"
        while url:
            page = self.call("GET", url).json()
            for folder in page.get("value", []):
                if str(folder.get("displayName", "")).lower() == name.lower():
                    return str(folder["id"])
            url = page.get("@odata.nextLink")
        if not create:
            raise ConnectorError(f"mailbox {mailbox} has no folder {name!r}")
        try:
            created = self.call("POST", f"{user}/mailFolders", json={"displayName": name}).json()
        except GraphError as exc:
            if exc.status != 409:  # made by someone else meanwhile
                raise
            return self.folder_id(mailbox, name, create=False)
        logger.info("created folder", extra={"mailbox": mailbox, "folder": name})
        return str(created["id"])

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(_untrusted(url)) from exc
        except requests.RequestException as exc:
            raise ConnectorError(f"{urlsplit(url).netloc}: {exc.__class__.__name__}") from exc


def _untrusted(url: str) -> str:
    return f"TLS certificate of {urlsplit(url).netloc} not trusted; set ca_file to the CA that signed it"


def _retry_after(response: requests.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0


@dataclass(slots=True)
class _State:
    folder_ids: dict[str, str] = field(default_factory=dict)  # config folder name -> Graph id
    delta_link: str = ""
    saved_link: str = ""  # the delta link as last kept in the store
    position_key: str = ""
    pending: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (attempts, due)


class GraphIntake(IntakeThread):
    """One Graph mail folder watched by one thread: new messages go to ``accept``.

    ``start()``/``stop()``/``health()`` from :class:`IntakeThread`; ``check()`` gets a
    token and the folders once."""

    kind = "graph"

    def __init__(
        self,
        config: GraphConnectorConfig,
        accept: Accept,
        *,
        positions: PositionStore | None = None,
        backoff_start: float = 1.0,
    ) -> None:
        super().__init__(
            config.label,
            f"{config.mailbox.lower()}/{config.folder}",
            backoff_start=backoff_start,
            reconnect_max=config.reconnect_max,
        )
        self.config = config
        self._accept = accept
        self._positions = positions
        self._mode = "delta"
        self._pending = 0

    def _retrying(self) -> int:
        return self._pending

    def check(self) -> None:
        """Get a token and find (or create) the folders once; raises :class:`ConnectorError`."""
        session = self._open()
        try:
            self._folders(session, _State())
        finally:
            session.close()

    # -- the thread -------------------------------------------------------------------------

    def _session_cycle(self) -> None:
        session = self._open()
        try:
            state = _State()
            self._folders(session, state)
            with self._lock:
                self._connected = True
            while not self._stop.is_set():
                self._poll(session, state)
                self._cycle_ok = True
                self._stop.wait(max(0.05, self.config.poll_interval))
        finally:
            with self._lock:
                self._connected = False
            session.close()

    def _open(self) -> GraphSession:
        session = GraphSession(self.config, f"connectors[{self.label}]", self._stop)
        try:
            session.fetch_token()
        except BaseException:
            session.close()
            raise
        return session

    # -- folders ----------------------------------------------------------------------------

    def _folders(self, session: GraphSession, state: _State) -> None:
        cfg = self.config
        state.folder_ids[cfg.folder] = session.folder_id(cfg.mailbox, cfg.folder, create=False)
        for name in (cfg.processed_folder, cfg.refused_folder):
            state.folder_ids[name] = session.folder_id(cfg.mailbox, name, create=True)
        state.position_key = f"delta:{state.folder_ids[cfg.folder]}"
        state.delta_link = state.saved_link = self._load(state.position_key)

    def _load(self, key: str) -> str:
        if self._positions is None:
            return ""
        try:
            return self._positions.get(key)
        except UmfaxError as exc:  # only a shortcut: list the folder anew
            error = describe_error(exc)
            logger.warning("delta link not read", extra={"connector": self.label, "error": error})
            return ""

    def _save(self, state: _State) -> None:
        """Keep the delta link once nothing it covers waits for a retry (a restart from it
        would never list those messages again)."""
        if self._positions is None or state.pending or state.delta_link == state.saved_link:
            return
        try:
            self._positions.put(state.position_key, state.delta_link)
        except UmfaxError as exc:
            error = describe_error(exc)
            logger.warning("delta link not kept", extra={"connector": self.label, "error": error})
            return
        state.saved_link = state.delta_link

    # -- messages ---------------------------------------------------------------------------

    def _poll(self, session: GraphSession, state: _State) -> None:
        """Follow the delta query to its end; handle new messages and those due a retry."""
        folder = quote(state.folder_ids[self.config.folder])
        first = f"{session.user(self.config.mailbox)}/mailFolders/{folder}/messages/delta?$select=id"
        url = state.delta_link or first
        new: list[str] = []
        while True:
            try:
                page = session.call("GET", url).json()
            except GraphError as exc:
                if exc.status != 410 or url == first:
                    raise
                logger.info("delta link expired; listing the folder anew", extra={"connector": self.label})
                url, state.delta_link, new = first, "", []
                continue
            for message in page.get("value", []):
                if "@removed" in message:
                    state.pending.pop(str(message.get("id")), None)
                elif message.get("id"):
                    new.append(str(message["id"]))
            if page.get("@odata.nextLink"):
                url = page["@odata.nextLink"]
                continue
            state.delta_link = page.get("@odata.deltaLink", "")
            break
        with self._lock:
            self._last_poll = datetime.now(UTC)
        now = time.monotonic()
        due = [i for i in new if i not in state.pending]
        due += [i for i, (_, at) in state.pending.items() if at <= now]
        for message_id in due:
            if self._stop.is_set():
                return
            if not self._handle(session, state, message_id):
                break  # the store is down: every message would fail alike
        with self._lock:
            self._pending = len(state.pending)
        self._save(state)

    def _handle(self, session: GraphSession, state: _State, message_id: str) -> bool:
        """Fetch, accept, move one message; False when the store failed."""
        url = f"{session.user(self.config.mailbox)}/messages/{quote(message_id)}"
        try:
            raw = session.call("GET", f"{url}/$value").content
        except GraphError as exc:
            if exc.status == 404:  # moved or deleted meanwhile
                state.pending.pop(message_id, None)
                return True
            raise
        ref = MailRef(connector=self.label, mailbox=self.mailbox, item_id=message_id)
        try:
            result = self._accept(raw, ref)
        except Exception as exc:
            self._accept_failed(state, message_id, exc)
            return not isinstance(exc, StoreError)
        state.pending.pop(message_id, None)
        target = self.config.refused_folder if result.refused else self.config.processed_folder
        try:
            session.call("POST", f"{url}/move", json={"destinationId": state.folder_ids[target]})
        except Exception:
            state.pending[message_id] = (0, time.monotonic() + self._backoff_start)  # accepted; move again
            raise
        self._handed_over(result, target)
        return True

    def _accept_failed(self, state: _State, message_id: str, exc: Exception) -> None:
        attempts = state.pending.get(message_id, (0, 0.0))[0] + 1
        delay = self._retry_delay(attempts)
        state.pending[message_id] = (attempts, time.monotonic() + delay)
        with self._lock:
            self._failures += 1
        error = self._describe(exc)
        self._note_error(f"message {message_id[:40]}…: {error}")
        logger.warning(
            "mail not accepted; left in the folder for another try",
            extra={"connector": self.label, "attempt": attempts, "retry_in": round(delay, 2), "error": error},
            exc_info=not isinstance(exc, UmfaxError),
        )


# -- delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Attachment:
    name: str
    content_type: str
    content: bytes
    content_id: str  # for an inline part (a preview shown in the body); "" otherwise

    def resource(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": self.name,
            "contentType": self.content_type,
            "contentBytes": base64.b64encode(self.content).decode("ascii"),
        }
        if self.content_id:
            item |= {"isInline": True, "contentId": self.content_id}
        return item


def _graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _addresses(message: EmailMessage, header: str) -> list[dict[str, Any]]:
    return [
        {"emailAddress": {"address": address, "name": name or address}}
        for name, address in getaddresses([str(v) for v in message.get_all(header, [])])
        if address
    ]


def message_resource(
    raw: bytes, item_class: str = FAX_ITEM_CLASS
) -> tuple[dict[str, Any], list[_Attachment]]:
    """A Graph message resource for an RFC 5322 message (a report, a received fax), and its
    attachments apart.  Created with PidTagMessageFlags 0 (MS-OXCMSG: neither read nor
    unsent), it is a received, unread message, not a draft; PidTagMessageClass makes it a
    fax item in Outlook; PidTagMessageDeliveryTime and PidTagClientSubmitTime carry the
    message's date."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("html", "plain"))
    content = body.get_content() if body is not None else ""
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else datetime.now(UTC)
    except (TypeError, ValueError):
        date = datetime.now(UTC)
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    properties = [
        {"id": "Integer 0x0E07", "value": "0"},
        {"id": "String 0x001A", "value": item_class},
        {"id": "SystemTime 0x0E06", "value": _graph_time(date)},
        {"id": "SystemTime 0x0039", "value": _graph_time(date)},
    ]
    resource: dict[str, Any] = {
        "subject": str(message.get("Subject", "")),
        "body": {
            "contentType": "html" if body is not None and body.get_content_subtype() == "html" else "text",
            "content": content if isinstance(content, str) else "",
        },
        "isRead": False,
        "singleValueExtendedProperties": properties,
    }
    senders = _addresses(message, "From")
    if senders:
        resource["from"] = resource["sender"] = senders[0]
    for header, key in (("To", "toRecipients"), ("Cc", "ccRecipients")):
        if found := _addresses(message, header):
            resource[key] = found
    if message["Message-ID"]:
        resource["internetMessageId"] = str(message["Message-ID"]).strip()
    attachments: list[_Attachment] = []
    for number, part in enumerate(message.iter_attachments(), start=1):
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        content_id = str(part.get("Content-ID", "")).strip().strip("<>")
        inline = part.get_content_disposition() == "inline" and bool(content_id)
        name = part.get_filename() or f"attachment-{number}.{part.get_content_subtype()}"
        attachments.append(_Attachment(name, part.get_content_type(), data, content_id if inline else ""))
    return resource, attachments


class GraphDelivery:
    """Creates messages (received faxes, reports) in users' mailboxes through Graph, as fax
    items (:data:`connectors.exchange.FAX_ITEM_CLASS`), with the app of ``[mail.graph]``.

    Attachments up to :data:`INLINE_BUDGET` in all ride in the create request; others up to
    3 MB are added one POST each; larger ones (a long fine-resolution fax) go through an
    upload session.  One session, reused (msal keeps the token); calls are serialised."""

    def __init__(self, config: GraphDeliveryConfig, *, item_class: str = FAX_ITEM_CLASS) -> None:
        self.config = config
        self.item_class = item_class
        self._lock = threading.Lock()
        self._session = GraphSession(config, "mail.graph", threading.Event())
        self._folders: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self._session.close()

    def deliver(self, email: str, message: bytes, *, folder: str = "inbox") -> str:
        """Create ``message`` (RFC 5322 bytes) in ``folder`` of ``email``'s mailbox (the folder
        is created when missing); the new message's id.  Raises :class:`ConnectorError`."""
        resource, attachments = message_resource(message, self.item_class)
        inline: list[_Attachment] = []
        budget = INLINE_BUDGET
        for attachment in attachments:
            if len(attachment.content) <= budget:
                inline.append(attachment)
                budget -= len(attachment.content)
        later = [a for a in attachments if a not in inline]
        resource["attachments"] = [a.resource() for a in inline]
        with self._lock:
            session = self._session
            try:
                key = (email.lower(), folder.lower())
                if key not in self._folders:
                    self._folders[key] = session.folder_id(email, folder, create=True)
                url = f"{session.user(email)}/mailFolders/{quote(self._folders[key])}/messages"
                created = session.call("POST", url, json=resource).json()
                message_id = str(created["id"])
                for attachment in later:
                    self._attach(session, email, message_id, attachment)
            except GraphError as exc:
                if exc.status == 404:
                    self._folders.pop((email.lower(), folder.lower()), None)
                error = describe_error(exc)
                raise ConnectorError(f"Graph delivery to {email} folder {folder!r}: {error}") from exc
        logger.info(
            "mail delivered by Graph",
            extra={
                "recipient": email,
                "folder": folder,
                "size": len(message),
                "attachments": len(attachments),
                "uploaded": len(later),
                "item_class": self.item_class,
            },
        )
        return message_id

    @staticmethod
    def _attach(session: GraphSession, email: str, message_id: str, attachment: _Attachment) -> None:
        url = f"{session.user(email)}/messages/{quote(message_id)}/attachments"
        if len(attachment.content) <= SIMPLE_ATTACHMENT:
            session.call("POST", url, json=attachment.resource())
            return
        item = {
            "AttachmentItem": {
                "attachmentType": "file",
                "name": attachment.name,
                "size": len(attachment.content),
                "contentType": attachment.content_type,
            }
        }
        upload = session.call("POST", f"{url}/createUploadSession", json=item).json()
        session.upload(str(upload["uploadUrl"]), attachment.content)
