"""A fake Exchange 2019 EWS endpoint on 127.0.0.1 for the tests: SOAP over HTTP, with
NTLM (checked by pyspnego's acceptor) or Basic authentication really checked, and
mailboxes that keep their folders and items so tests can assert where things went.

It answers the operations exchangelib sends for what umfax does: ConvertId (the
version probe), GetFolder, FindFolder, CreateFolder, FindItem, GetItem (with
MimeContent), MoveItem (the item gets a new id, as in Exchange), CreateItem
(MimeContent, SavedItemFolderId, the message class as PidTagMessageClass), Subscribe
(pull) and GetEvents (NewMail/Created/Moved events, watermarks), with responses shaped
like Exchange 2019 CU12's (the ServerVersionInfo header, the ResponseMessages wrapper,
error ResponseCodes such as ErrorItemNotFound, SOAP faults for ErrorImpersonateUserDenied).
Access rules: a login reaches its own mailbox; another mailbox through
ExchangeImpersonation needs the ApplicationImpersonation role (``impersonators``),
without it a delegate grant (``delegates``); ids name the mailbox they belong to.
``failures[op] = n`` makes the next n calls of an operation fail (ErrorInternalServerError);
``pull=False`` offers no subscriptions; ``tls=True`` serves https with a certificate from
a private CA (``ca_file``).

Usage::

    with EwsServer(auth="ntlm") as ews:
        ews.add_user("EXAMPLE\\\\svc-fax", "secret", "fax@example.com")
        box = ews.mailbox("fax@example.com")
        box.deliver(raw_mime)                 # a message arrives in the Inbox
        ews.url                               # http://127.0.0.1:PORT/EWS/Exchange.asmx
"""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import spnego

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS = {"s": SOAP, "m": M, "t": T}
PATH = "/EWS/Exchange.asmx"

#: What Exchange Server 2019 CU12 puts in every response's SOAP header.
SERVER_VERSION = (
    '<h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber="1118" '
    'MinorBuildNumber="7" Version="V2017_07_11" '
    'xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>'
)

DISTINGUISHED = {
    "root": ("Root", None, "IPF.Note"),
    "msgfolderroot": ("Top of Information Store", "root", "IPF.Note"),
    "inbox": ("Inbox", "msgfolderroot", "IPF.Note"),
    "sentitems": ("Sent Items", "msgfolderroot", "IPF.Note"),
    "deleteditems": ("Deleted Items", "msgfolderroot", "IPF.Note"),
    "drafts": ("Drafts", "msgfolderroot", "IPF.Note"),
}

_ids = itertools.count(1)


def _new_id(kind: str) -> str:
    """An opaque, base64-looking id as Exchange hands out (unique across mailboxes)."""
    return base64.b64encode(f"umfax-fake-{kind}-{next(_ids):08d}-{os.urandom(6).hex()}".encode()).decode()


@dataclass
class Folder:
    id: str
    name: str
    parent_id: str | None
    distinguished: str = ""
    folder_class: str = "IPF.Note"


@dataclass
class Item:
    id: str
    folder_id: str
    mime: bytes
    item_class: str = "IPM.Note"
    subject: str = ""
    changekey: str = field(default_factory=lambda: base64.b64encode(os.urandom(9)).decode())


@dataclass
class Subscription:
    """A pull subscription: the folders watched and the events since it began."""

    id: str
    folder_ids: set[str]
    events: list[str] = field(default_factory=list)  # event XML, the watermark is its index + 1


def _watermark(subscription: str, seq: int) -> str:
    return base64.b64encode(f"{subscription}|{seq}".encode()).decode()


class MailboxState:
    """One mailbox: folders by id, items by id, pull subscriptions by id."""

    def __init__(self, address: str) -> None:
        self.address = address.lower()
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.lock = threading.RLock()
        self.subscriptions: dict[str, Subscription] = {}
        for key, (name, parent, cls) in DISTINGUISHED.items():
            parent_id = self.distinguished(parent).id if parent else None
            folder = Folder(_new_id("folder"), name, parent_id, key, cls)
            self.folders[folder.id] = folder

    def distinguished(self, key: str) -> Folder:
        return next(f for f in self.folders.values() if f.distinguished == key)

    def folder_named(self, path: str) -> Folder | None:
        """A folder by display-name path from the top of the store ("Inbox", "Faxes/Done")."""
        current = self.distinguished("msgfolderroot")
        for part in path.split("/"):
            found = [
                f
                for f in self.folders.values()
                if f.parent_id == current.id and f.name.lower() == part.lower()
            ]
            if not found:
                return None
            current = found[0]
        return current

    def deliver(self, mime: bytes, folder: str = "Inbox", item_class: str = "IPM.Note") -> str:
        """A message arrives (as the transport would put it there); its item id."""
        with self.lock:
            target = self.folder_named(folder)
            if target is None:
                raise KeyError(f"no folder {folder!r} in {self.address}")
            item = Item(_new_id("item"), target.id, mime, item_class, _subject(mime))
            self.items[item.id] = item
            self.notify("NewMailEvent", item)
            return item.id

    def notify(self, kind: str, item: Item, old_folder: str | None = None, old_id: str | None = None) -> None:
        """Queue an event for the subscriptions on the item's folder (or, moved, its old one)."""
        from datetime import UTC, datetime

        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for sub in self.subscriptions.values():
            if item.folder_id not in sub.folder_ids and old_folder not in sub.folder_ids:
                continue
            old = (
                f"<t:OldItemId Id={quoteattr(old_id or '')}/>"
                f'<t:OldParentFolderId Id={quoteattr(old_folder or "")} ChangeKey="AQAAAA=="/>'
                if old_folder
                else ""
            )
            mark = _watermark(sub.id, len(sub.events) + 1)
            sub.events.append(
                f"<t:{kind}><t:Watermark>{mark}</t:Watermark><t:TimeStamp>{stamp}</t:TimeStamp>"
                f"<t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)}/>"
                f'<t:ParentFolderId Id={quoteattr(item.folder_id)} ChangeKey="AQAAAA=="/>{old}</t:{kind}>'
            )

    def items_in(self, folder: str) -> list[Item]:
        with self.lock:
            target = self.folder_named(folder)
            if target is None:
                return []
            return [i for i in self.items.values() if i.folder_id == target.id]


def _subject(mime: bytes) -> str:
    from email import policy
    from email.parser import BytesHeaderParser

    return str(BytesHeaderParser(policy=policy.default).parsebytes(mime).get("Subject", ""))


class EwsFault(Exception):
    """An error ResponseMessage: ``code`` is the EWS ResponseCode."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


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
            return 500, _fault("The request failed schema validation: the XML is not well-formed.")
        request = envelope.find("s:Body", NS)
        if request is None or len(request) == 0:
            return 500, _fault("The request failed schema validation: no SOAP body.")
        op_el = request[0]
        operation = op_el.tag.rpartition("}")[2]
        header = envelope.find("s:Header", NS)
        impersonate = None
        if header is not None:
            sid = header.find("t:ExchangeImpersonation/t:ConnectingSID", NS)
            if sid is not None:
                impersonate = _text(sid, "t:PrimarySmtpAddress") or _text(sid, "t:SmtpAddress")
        box_el = op_el.find(".//t:DistinguishedFolderId/t:Mailbox/t:EmailAddress", NS)
        # a distinguished folder names its mailbox; otherwise the ids do, as Exchange's do
        named = box_el.text if box_el is not None and box_el.text else _owner(self.ews, op_el)
        ews = self.ews
        handler = _OPERATIONS.get(operation)
        if operation in ("Subscribe", "GetEvents") and not ews.pull:
            handler = None
        name = operation.removesuffix("Request") if operation.endswith("Request") else operation
        if handler is None:
            return 500, _fault(f"The request is invalid: {operation} is not supported by this server.")
        messages: list[str]
        try:
            box, impersonated = ews.resolve_mailbox(login, impersonate, named)
        except EwsFault as exc:
            ews.calls.append(Call(name, login, "", bool(impersonate)))
            if exc.code == "ErrorImpersonateUserDenied":
                return 500, _fault(exc.text, exc.code)
            return 200, _envelope(name, [_error(name, exc)])
        ews.calls.append(Call(name, login, box.address, impersonated))
        if ews.failures.get(name, 0) > 0:
            ews.failures[name] -= 1
            messages = [
                _error(name, EwsFault("ErrorInternalServerError", "An internal server error occurred."))
            ]
            return 200, _envelope(name, messages)
        with box.lock:
            messages = handler(box, op_el)
        return 200, _envelope(
            name, [m if m.startswith(f"<m:{name}ResponseMessage") else _ok(name, m) for m in messages]
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


def _text(el: ET.Element, path: str) -> str | None:
    found = el.find(path, NS)
    return found.text if found is not None else None


def _fault(text: str, code: str = "ErrorSchemaValidation") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        '<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:'
        f'{code}</faultcode><faultstring xml:lang="en-US">{escape(text)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{escape(text)}</e:Message></detail>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


def _envelope(name: str, messages: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>{SERVER_VERSION}</s:Header>'
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<m:{name}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
        + "".join(messages)
        + f"</m:ResponseMessages></m:{name}Response></s:Body></s:Envelope>"
    ).encode()


def _ok(name: str, inner: str) -> str:
    return (
        f'<m:{name}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{name}ResponseMessage>"
    )


def _error(name: str, exc: EwsFault) -> str:
    return (
        f'<m:{name}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(exc.text)}</m:MessageText>'
        f"<m:ResponseCode>{exc.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{name}ResponseMessage>"
    )


# -- operations --------------------------------------------------------------------------------


def _folder_xml(box: MailboxState, folder: Folder) -> str:
    parent = (
        f'<t:ParentFolderId Id={quoteattr(folder.parent_id)} ChangeKey="AQAAAA=="/>'
        if folder.parent_id
        else ""
    )
    count = sum(1 for i in box.items.values() if i.folder_id == folder.id)
    children = sum(1 for f in box.folders.values() if f.parent_id == folder.id)
    return (
        f'<t:Folder><t:FolderId Id={quoteattr(folder.id)} ChangeKey="AQAAABYAAAA="/>{parent}'
        f"<t:FolderClass>{folder.folder_class}</t:FolderClass><t:DisplayName>{escape(folder.name)}</t:DisplayName>"
        f"<t:TotalCount>{count}</t:TotalCount><t:ChildFolderCount>{children}</t:ChildFolderCount>"
        f"<t:UnreadCount>0</t:UnreadCount></t:Folder>"
    )


def _folder_ref(box: MailboxState, el: ET.Element) -> Folder:
    """The folder a FolderId or DistinguishedFolderId element names."""
    tag = el.tag.rpartition("}")[2]
    if tag == "DistinguishedFolderId":
        key = el.get("Id", "")
        try:
            return box.distinguished(key)
        except StopIteration:
            raise EwsFault(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            ) from None
    folder = box.folders.get(el.get("Id", ""))
    if folder is None:
        raise EwsFault("ErrorFolderNotFound", "The specified folder could not be found in the store.")
    return folder


def _folder_ids(box: MailboxState, parent: ET.Element | None) -> list[Folder | EwsFault]:
    out: list[Folder | EwsFault] = []
    for el in list(parent) if parent is not None else []:
        try:
            out.append(_folder_ref(box, el))
        except EwsFault as exc:
            out.append(exc)
    return out


def _item_xml(item: Item, *, mime: bool) -> str:
    content = (
        f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(item.mime).decode()}</t:MimeContent>'
        if mime
        else ""
    )
    return (
        f"<t:Message>{content}<t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)}/>"
        f'<t:ParentFolderId Id={quoteattr(item.folder_id)} ChangeKey="AQAAAA=="/>'
        f"<t:ItemClass>{escape(item.item_class)}</t:ItemClass><t:Subject>{escape(item.subject)}</t:Subject>"
        f"</t:Message>"
    )


def op_get_folder(box: MailboxState, op: ET.Element) -> list[str]:
    out = []
    for found in _folder_ids(box, op.find("m:FolderIds", NS)):
        if isinstance(found, EwsFault):
            out.append(_error("GetFolder", found))
        else:
            out.append(f"<m:Folders>{_folder_xml(box, found)}</m:Folders>")
    return out


def _restriction_name(op: ET.Element) -> str | None:
    equal = op.find("m:Restriction/t:IsEqualTo", NS)
    if equal is None:
        return None
    path = equal.find("t:FieldURI", NS)
    constant = equal.find("t:FieldURIOrConstant/t:Constant", NS)
    if path is None or constant is None or path.get("FieldURI") != "folder:DisplayName":
        raise EwsFault("ErrorUnsupportedQueryFilter", "The restriction is not supported by this server.")
    return constant.get("Value", "")


def op_find_folder(box: MailboxState, op: ET.Element) -> list[str]:
    out = []
    deep = op.get("Traversal") == "Deep"
    try:
        name = _restriction_name(op)
    except EwsFault as exc:
        return [_error("FindFolder", exc)]
    for parent in _folder_ids(box, op.find("m:ParentFolderIds", NS)):
        if isinstance(parent, EwsFault):
            out.append(_error("FindFolder", parent))
            continue
        found: list[Folder] = []
        level = [parent.id]
        while level:
            children = [f for f in box.folders.values() if f.parent_id in level]
            found.extend(children)
            level = [f.id for f in children] if deep else []
        if name is not None:
            found = [f for f in found if f.name.lower() == name.lower()]
        folders = "".join(_folder_xml(box, f) for f in found)
        out.append(
            f'<m:RootFolder IndexedPagingOffset="{len(found)}" TotalItemsInView="{len(found)}" '
            f'IncludesLastItemInRange="true"><t:Folders>{folders}</t:Folders></m:RootFolder>'
        )
    return out


def op_create_folder(box: MailboxState, op: ET.Element) -> list[str]:
    parents = _folder_ids(box, op.find("m:ParentFolderId", NS))
    if not parents or isinstance(parents[0], EwsFault):
        return [_error("CreateFolder", EwsFault("ErrorParentFolderNotFound", "Parent folder not found."))]
    parent = parents[0]
    out = []
    for el in op.findall("m:Folders/t:Folder", NS):
        name = _text(el, "t:DisplayName") or ""
        if any(f.parent_id == parent.id and f.name.lower() == name.lower() for f in box.folders.values()):
            out.append(
                _error(
                    "CreateFolder",
                    EwsFault("ErrorFolderExists", "A folder with the specified name already exists."),
                )
            )
            continue
        folder = Folder(_new_id("folder"), name, parent.id, "", _text(el, "t:FolderClass") or "IPF.Note")
        box.folders[folder.id] = folder
        out.append(
            f'<m:Folders><t:Folder><t:FolderId Id={quoteattr(folder.id)} ChangeKey="AQAAAA=="/>'
            "</t:Folder></m:Folders>"
        )
    return out


def op_find_item(box: MailboxState, op: ET.Element) -> list[str]:
    page = op.find("m:IndexedPageItemView", NS)
    limit = int(page.get("MaxEntriesReturned", "1000")) if page is not None else 1000
    offset = int(page.get("Offset", "0")) if page is not None else 0
    out = []
    for parent in _folder_ids(box, op.find("m:ParentFolderIds", NS)):
        if isinstance(parent, EwsFault):
            out.append(_error("FindItem", parent))
            continue
        items = [i for i in box.items.values() if i.folder_id == parent.id]
        chunk = items[offset : offset + limit]
        last = "true" if offset + len(chunk) >= len(items) else "false"
        xml = "".join(_item_xml(i, mime=False) for i in chunk)
        out.append(
            f'<m:RootFolder IndexedPagingOffset="{offset + len(chunk)}" TotalItemsInView="{len(items)}" '
            f'IncludesLastItemInRange="{last}"><t:Items>{xml}</t:Items></m:RootFolder>'
        )
    return out


def _item_refs(box: MailboxState, parent: ET.Element | None) -> list[Item | EwsFault]:
    out: list[Item | EwsFault] = []
    for el in list(parent) if parent is not None else []:
        item = box.items.get(el.get("Id", ""))
        out.append(
            item
            if item is not None
            else EwsFault("ErrorItemNotFound", "The specified object was not found in the store.")
        )
    return out


def op_get_item(box: MailboxState, op: ET.Element) -> list[str]:
    fields = {el.get("FieldURI") for el in op.findall("m:ItemShape/t:AdditionalProperties/t:FieldURI", NS)}
    mime = (
        "item:MimeContent" in fields
        or (_text(op, "m:ItemShape/t:IncludeMimeContent") or "").lower() == "true"
    )
    out = []
    for found in _item_refs(box, op.find("m:ItemIds", NS)):
        if isinstance(found, EwsFault):
            out.append(_error("GetItem", found))
        else:
            out.append(f"<m:Items>{_item_xml(found, mime=mime)}</m:Items>")
    return out


def op_move_item(box: MailboxState, op: ET.Element) -> list[str]:
    target = _folder_ids(box, op.find("m:ToFolderId", NS))
    if not target or isinstance(target[0], EwsFault):
        return [
            _error(
                "MoveItem",
                EwsFault("ErrorFolderNotFound", "The specified folder could not be found in the store."),
            )
        ]
    out = []
    for found in _item_refs(box, op.find("m:ItemIds", NS)):
        if isinstance(found, EwsFault):
            out.append(_error("MoveItem", found))
            continue
        del box.items[found.id]
        old_id, old_folder = found.id, found.folder_id
        found.id = _new_id("item")  # a moved item gets a new id, as in Exchange
        found.folder_id = target[0].id
        box.items[found.id] = found
        box.notify("MovedEvent", found, old_folder, old_id)
        out.append(
            f"<m:Items><t:Message><t:ItemId Id={quoteattr(found.id)} ChangeKey={quoteattr(found.changekey)}/>"
            "</t:Message></m:Items>"
        )
    return out


def op_create_item(box: MailboxState, op: ET.Element) -> list[str]:
    saved = op.find("m:SavedItemFolderId", NS)
    target = _folder_ids(box, saved) if saved is not None else [box.distinguished("drafts")]
    if not target or isinstance(target[0], EwsFault):
        return [
            _error(
                "CreateItem",
                EwsFault("ErrorFolderNotFound", "The specified folder could not be found in the store."),
            )
        ]
    if op.get("MessageDisposition") not in (None, "SaveOnly"):
        return [_error("CreateItem", EwsFault("ErrorInvalidOperation", "Only SaveOnly is supported here."))]
    out = []
    for el in op.findall("m:Items/t:Message", NS):
        content = _text(el, "t:MimeContent")
        if not content:
            out.append(
                _error(
                    "CreateItem", EwsFault("ErrorInvalidRequest", "This fake stores messages by MimeContent.")
                )
            )
            continue
        mime = base64.b64decode(content)
        item_class = _text(el, "t:ItemClass") or "IPM.Note"
        for prop in el.findall("t:ExtendedProperty", NS):  # PidTagMessageClass set as a MAPI property
            uri = prop.find("t:ExtendedFieldURI", NS)
            tag = uri.get("PropertyTag", "") if uri is not None else ""
            if tag and int(tag, 0) == 0x001A:
                item_class = _text(prop, "t:Value") or item_class
        item = Item(_new_id("item"), target[0].id, mime, item_class, _subject(mime))
        box.items[item.id] = item
        box.notify("CreatedEvent", item)
        out.append(
            f"<m:Items><t:Message><t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)}/>"
            "</t:Message></m:Items>"
        )
    return out


def op_convert_id(box: MailboxState, op: ET.Element) -> list[str]:
    """What Exchange answers exchangelib's version probe (a dummy id)."""
    return [
        _error("ConvertId", EwsFault("ErrorInvalidIdMalformed", "Id is malformed."))
        for _ in op.findall("m:SourceIds/t:AlternateId", NS)
    ] or [_error("ConvertId", EwsFault("ErrorInvalidIdMalformed", "Id is malformed."))]


def op_subscribe(box: MailboxState, op: ET.Element) -> list[str]:
    request = op.find("m:PullSubscriptionRequest", NS)
    if request is None:
        fault = EwsFault("ErrorInvalidSubscriptionRequest", "Only pull subscriptions are offered here.")
        return [_error("Subscribe", fault)]
    folders = _folder_ids(box, request.find("t:FolderIds", NS))
    bad = [f for f in folders if isinstance(f, EwsFault)]
    if bad:
        return [_error("Subscribe", bad[0])]
    sub = Subscription(_new_id("subscription"), {f.id for f in folders if isinstance(f, Folder)})
    box.subscriptions[sub.id] = sub
    return [
        f"<m:SubscriptionId>{sub.id}</m:SubscriptionId><m:Watermark>{_watermark(sub.id, 0)}</m:Watermark>"
    ]


def op_get_events(box: MailboxState, op: ET.Element) -> list[str]:
    sub = box.subscriptions.get(_text(op, "m:SubscriptionId") or "")
    if sub is None:
        return [_error("GetEvents", EwsFault("ErrorSubscriptionNotFound", "The subscription was not found."))]
    try:
        owner, _, seq = base64.b64decode(_text(op, "m:Watermark") or "").decode().partition("|")
        start = int(seq)
    except ValueError:
        start, owner = -1, ""
    if owner != sub.id or not 0 <= start <= len(sub.events):
        return [_error("GetEvents", EwsFault("ErrorInvalidWatermark", "The watermark is invalid."))]
    events = sub.events[start : start + 50]
    more = "true" if start + len(events) < len(sub.events) else "false"
    body = (
        "".join(events)
        or f"<t:StatusEvent><t:Watermark>{_watermark(sub.id, start)}</t:Watermark></t:StatusEvent>"
    )
    return [
        f"<m:Notification><t:SubscriptionId>{sub.id}</t:SubscriptionId>"
        f"<t:PreviousWatermark>{_watermark(sub.id, start)}</t:PreviousWatermark>"
        f"<t:MoreEvents>{more}</t:MoreEvents>{body}</m:Notification>"
    ]


_OPERATIONS: dict[str, Callable[[MailboxState, ET.Element], list[str]]] = {
    "GetFolder": op_get_folder,
    "FindFolder": op_find_folder,
    "CreateFolder": op_create_folder,
    "FindItem": op_find_item,
    "GetItem": op_get_item,
    "MoveItem": op_move_item,
    "CreateItem": op_create_item,
    "ConvertId": op_convert_id,
    "Subscribe": op_subscribe,
    "GetEvents": op_get_events,
}
