"""A fake Exchange 2019 EWS endpoint on 127.0.0.1 for the tests: SOAP over HTTP, with
NTLM (checked by pyspnego's acceptor) or Basic authentication really checked, and
mailboxes that keep their folders and items so tests can assert where things went.

It answers the operations exchangelib sends for what umfax does: ConvertId (the
version probe), GetFolder, FindFolder, CreateFolder, FindItem, GetItem (with
MimeContent), MoveItem (the item gets a new id, as in Exchange), CreateItem
(MimeContent, SavedItemFolderId, the message class as PidTagMessageClass), Subscribe
(pull), Unsubscribe and GetEvents (NewMail/Created/Moved events, watermarks), with responses shaped
like Exchange 2019 CU12's (the ServerVersionInfo header, the ResponseMessages wrapper,
error ResponseCodes such as ErrorItemNotFound, SOAP faults for ErrorImpersonateUserDenied).
Access rules: a login reaches its own mailbox; another mailbox through
ExchangeImpersonation needs the ApplicationImpersonation role (``impersonators``),
without it a delegate grant (``delegates``); ids name the mailbox they belong to.
``failures[op] = n`` makes the next n calls of an operation fail (ErrorInternalServerError);
``pull=False`` offers no subscriptions; ``tls=True`` serves https with a certificate from
a private CA (``ca_file``).

GetEvents pages as Exchange does: at most ``events_page`` events an answer (50 by default),
``MoreEvents=true`` while more wait, each answer starting at the watermark the request
names (the watermark of an event is the position after it).  A client that re-sends an
old watermark gets the same events again.  ``event_reads`` records every answer.

Usage::

    with EwsServer(auth="ntlm") as ews:
        ews.add_user("EXAMPLE\\\\svc-fax", "secret", "fax@example.com")
        box = ews.mailbox("fax@example.com")
        box.deliver(raw_mime)                 # a message arrives in the Inbox
        ews.url                               # http://127.0.0.1:PORT/EWS/Exchange.asmx
"""
from __future__ import annotations

import base64
import functools
import os
import shutil
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import spnego

from tests.servers.ews_mailbox import EwsFault, MailboxState
from tests.servers.ews_operations import (
    NS,
    OPERATIONS,
    PATH,
    EventRead,
    error,
    ok,
    op_get_events,
    soap_envelope,
    soap_fault,
    text_at,
)

__all__ = ["Call", "EwsFault", "EwsServer", "MailboxState"]


@dataclass
class Call:
    """One SOAP operation the server answered (for tests to look at)."""

    operation: str
    user: str
    mailbox: str
    impersonated: bool


class EwsServer:
    """The fake EWS endpoint; a context manager that serves in a background thread."""

    def __init__(
        self, auth: Literal["ntlm", "basic"] = "ntlm", *, pull: bool = True, tls: bool = False
    ) -> None:
        self.auth = auth
        self.tls = tls  # https with a certificate for 127.0.0.1 from a private CA (``ca_file``)
        self.ca_file: Path | None = None
        self.pull = pull  # offer pull subscriptions (Subscribe, GetEvents)
        self.passwords: dict[str, str] = {}  # login name (as the client writes it, lower) -> password
        self.own_mailbox: dict[str, str] = {}  # login -> its own mailbox address
        self.impersonators: set[str] = set()  # logins with the ApplicationImpersonation role
        self.delegates: dict[str, set[str]] = {}  # login -> mailboxes it has full access to
        self.mailboxes: dict[str, MailboxState] = {}
        self.calls: list[Call] = []
        self.failures: dict[str, int] = {}  # operation -> how many next calls answer ErrorInternalServerError
        self.events_page = 50  # events per GetEvents answer at most
        self.event_reads: list[EventRead] = []
        self._dir = tempfile.mkdtemp(prefix="umfax-ews-")
        self._users_file = Path(self._dir) / "ntlm-users"
        self._users_file.write_text("")
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._saved_env: str | None = None

    # -- setup ------------------------------------------------------------------------------

    def add_user(
        self, login: str, password: str, mailbox: str, *, impersonator: bool = False
    ) -> MailboxState:
        """A login (``DOMAIN\\\\user`` or a UPN) whose own mailbox is ``mailbox``."""
        self.passwords[login.lower()] = password
        self.own_mailbox[login.lower()] = mailbox.lower()
        if impersonator:
            self.impersonators.add(login.lower())
        lines = []
        for name, secret in self.passwords.items():
            domain, _, user = name.rpartition("\\")
            lines.append(f"{domain}:{user}:{secret}" if domain else f":{user}:{secret}")
        self._users_file.write_text("\n".join(lines) + "\n")
        return self.mailbox(mailbox)

    def mailbox(self, address: str) -> MailboxState:
        with self._lock:
            box = self.mailboxes.get(address.lower())
            if box is None:
                box = self.mailboxes[address.lower()] = MailboxState(address)
            return box

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{PATH}"

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    # -- running ----------------------------------------------------------------------------

    def __enter__(self) -> EwsServer:
        self._saved_env = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(self._users_file)  # pyspnego's acceptor reads it
        server = self

        class Handler(_Handler):
            ews = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        if self.tls:
            import ssl

            from tests.servers.dovecot import make_ca, make_server_cert

            ca = make_ca(Path(self._dir), "umfax test EWS CA")
            cert, key = Path(self._dir) / "ews.pem", Path(self._dir) / "ews.key"
            make_server_cert(ca, cert, key)
            self.ca_file = ca.cert_file
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-ews", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self._saved_env is None:
            os.environ.pop("NTLM_USER_FILE", None)
        else:
            os.environ["NTLM_USER_FILE"] = self._saved_env
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- access ----------------------------------------------------------------------------

    def resolve_mailbox(
        self, login: str, impersonate: str | None, named: str | None
    ) -> tuple[MailboxState, bool]:
        own = self.own_mailbox.get(login.lower(), "")
        if impersonate:
            if login.lower() not in self.impersonators:
                raise EwsFault(
                    "ErrorImpersonateUserDenied",
                    "The account does not have permission to impersonate the requested user.",
                )
            return self.mailbox(impersonate), True
        target = (named or own).lower()
        if target != own and target not in self.delegates.get(login.lower(), set()):
            raise EwsFault("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return self.mailbox(target), False


# -- HTTP and authentication -------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    ews: EwsServer
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        self._ntlm: Any = None
        self._ntlm_user = ""

    def do_GET(self) -> None:
        self._reply(405, b"", {"Allow": "POST"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.split("?")[0].lower() != PATH.lower():
            self._reply(404, b"Not Found")
            return
        user = self._authenticate()
        if user is None:
            return
        status, answer = self.ews_dispatch(user, body)
        self._reply(status, answer, {"Content-Type": "text/xml; charset=utf-8"})

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _challenge(self, token: str | None = None) -> None:
        if self.ews.auth == "basic":
            header = 'Basic realm="127.0.0.1"'
        else:
            header = f"NTLM {token}" if token else "NTLM"
        self._reply(401, b"", {"WWW-Authenticate": header})

    def _authenticate(self) -> str | None:
        """The authenticated login, or None after answering 401."""
        value = self.headers.get("Authorization", "")
        scheme, _, data = value.partition(" ")
        if self.ews.auth == "basic":
            if scheme.lower() != "basic":
                self._challenge()
                return None
            try:
                login, _, password = base64.b64decode(data).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                self._challenge()
                return None
            if self.ews.passwords.get(login.lower()) != password or not password:
                self._challenge()
                return None
            return login
        if self._ntlm_user and not value:
            return self._ntlm_user  # an authenticated connection stays authenticated (as IIS does)
        if scheme.lower() not in ("ntlm", "negotiate") or not data:
            self._challenge()
            return None
        token = base64.b64decode(data)
        if token[8:12] == b"\x01\x00\x00\x00":  # NEGOTIATE_MESSAGE: a new handshake
            self._ntlm = spnego.server(protocol="ntlm")
        if self._ntlm is None:
            self._challenge()
            return None
        try:
            out = self._ntlm.step(token)
        except Exception:  # spnego.exceptions.SpnegoError: wrong password, unknown user
            self._ntlm = None
            self._challenge()
            return None
        if not self._ntlm.complete:
            self._challenge(base64.b64encode(out or b"").decode())
            return None
        self._ntlm_user = str(self._ntlm.client_principal or "")
        self._ntlm = None
        return self._ntlm_user

    # -- SOAP --------------------------------------------------------------------------------

    def ews_dispatch(self, login: str, body: bytes) -> tuple[int, bytes]:
        try:
            envelope = ET.fromstring(body)
        except ET.ParseError:
            return 500, soap_fault("The request failed schema validation: the XML is not well-formed.")
        request = envelope.find("s:Body", NS)
        if request is None or len(request) == 0:
            return 500, soap_fault("The request failed schema validation: no SOAP body.")
        op_el = request[0]
        operation = op_el.tag.rpartition("}")[2]
        header = envelope.find("s:Header", NS)
        impersonate = None
        if header is not None:
            sid = header.find("t:ExchangeImpersonation/t:ConnectingSID", NS)
            if sid is not None:
                impersonate = text_at(sid, "t:PrimarySmtpAddress") or text_at(sid, "t:SmtpAddress")
        box_el = op_el.find(".//t:DistinguishedFolderId/t:Mailbox/t:EmailAddress", NS)
        # a distinguished folder names its mailbox; otherwise the ids do, as Exchange's do
        named = box_el.text if box_el is not None and box_el.text else _owner(self.ews, op_el)
        ews = self.ews
        handler = OPERATIONS.get(operation)
        if operation == "GetEvents":
            handler = functools.partial(op_get_events, page=ews.events_page, reads=ews.event_reads)
        if operation in ("Subscribe", "Unsubscribe", "GetEvents") and not ews.pull:
            handler = None
        name = operation.removesuffix("Request") if operation.endswith("Request") else operation
        if handler is None:
            return 500, soap_fault(f"The request is invalid: {operation} is not supported by this server.")
        messages: list[str]
        try:
            box, impersonated = ews.resolve_mailbox(login, impersonate, named)
        except EwsFault as exc:
            ews.calls.append(Call(name, login, "", bool(impersonate)))
            if exc.code == "ErrorImpersonateUserDenied":
                return 500, soap_fault(exc.text, exc.code)
            return 200, soap_envelope(name, [error(name, exc)])
        ews.calls.append(Call(name, login, box.address, impersonated))
        if ews.failures.get(name, 0) > 0:
            ews.failures[name] -= 1
            messages = [
                error(name, EwsFault("ErrorInternalServerError", "An internal server error occurred."))
            ]
            return 200, soap_envelope(name, messages)
        with box.lock:
            messages = handler(box, op_el)
        return 200, soap_envelope(
            name, [m if m.startswith(f"<m:{name}ResponseMessage") else ok(name, m) for m in messages]
        )


def _owner(ews: EwsServer, op: ET.Element) -> str | None:
    """The mailbox of the first folder, item or subscription id in a request."""
    wanted: list[str] = []
    for el in op.iter():
        tag = el.tag.rpartition("}")[2]
        if tag in ("FolderId", "ItemId") and el.get("Id"):
            wanted.append(el.get("Id", ""))
        elif tag == "SubscriptionId" and el.text:
            wanted.append(el.text)
    for key in wanted:
        for address, box in list(ews.mailboxes.items()):
            if key in box.folders or key in box.items or key in box.subscriptions:
                return address
    return None
