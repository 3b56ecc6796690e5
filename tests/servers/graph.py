"""A fake Microsoft Graph (v1.0 mail) and Entra ID token endpoint on 127.0.0.1 for the
tests, one ThreadingHTTPServer speaking the real wire protocol over HTTPS (a certificate
from a test CA: ``ca_file``), so that msal and requests run unmodified:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the OpenID discovery document
  msal reads first (``token_endpoint``).
- ``POST /{tenant}/oauth2/v2.0/token``: the OAuth 2.0 client-credentials grant (form
  body: grant_type, client_id, client_secret, scope), checked against ``client_id`` /
  ``client_secret``; errors as Entra ID writes them (``invalid_client``, AADSTS codes).
- ``/v1.0/users/{mailbox}/...``: every call needs ``Authorization: Bearer <token>`` from
  the token endpoint (401 InvalidAuthenticationToken otherwise); mailFolders (GET by id or
  well-known name, list, POST to create), ``mailFolders/{id}/messages/delta`` (pages of
  ``page_size`` with ``@odata.nextLink``, then ``@odata.deltaLink``; 410 for an unknown
  delta token), ``messages/{id}/$value`` (the MIME), ``messages/{id}/move`` (the message
  gets a new id, as in Exchange Online), ``POST mailFolders/{id}/messages`` (create a
  message from JSON, with attachments and singleValueExtendedProperties; requests over
  4 MB get 413 as in Graph), ``POST messages/{id}/attachments`` (a fileAttachment under
  3 MB) and ``messages/{id}/attachments/createUploadSession`` with its ``PUT`` chunks
  (Content-Range, no Authorization header: the upload URL is the credential).

``failures["move"] = n`` makes the next n moves answer 503; ``throttle["delta"] = n`` the
next n delta calls 429 with ``Retry-After: 0``; ``revoke()`` invalidates issued tokens.
"""

from __future__ import annotations

import base64
import email
import email.policy
import itertools
import json
import re
import shutil
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.servers.dovecot import make_ca, make_server_cert

MAX_REQUEST = 4 * 1024 * 1024  # Graph refuses larger request bodies
MAX_SIMPLE_ATTACHMENT = 3 * 1024 * 1024  # larger attachments need an upload session
UPLOAD_CHUNK = 320 * 1024  # chunks must be multiples of this, except the last

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class GraphAttachment:
    name: str
    content_type: str
    content: bytes
    is_inline: bool = False
    content_id: str = ""


@dataclass
class GraphMessage:
    id: str
    raw: bytes  # the MIME ($value); b"" for messages created from JSON
    folder_id: str
    version: int  # the change counter when it last arrived in its folder
    resource: dict[str, Any] = field(default_factory=dict)  # JSON properties of a created message
    attachments: list[GraphAttachment] = field(default_factory=list)

    @property
    def subject(self) -> str:
        if self.raw:
            return str(email.message_from_bytes(self.raw, policy=email.policy.default).get("Subject", ""))
        return str(self.resource.get("subject", ""))

    @property
    def is_draft(self) -> bool:
        """As Exchange: a created message is a draft unless PidTagMessageFlags was given at
        creation without mfUnsent (0x8)."""
        if self.raw:
            return False
        flags = self.extended("Integer 0x0E07")
        return flags is None or bool(int(flags) & 0x8)

    def extended(self, property_id: str) -> str | None:
        for prop in self.resource.get("singleValueExtendedProperties", []):
            if str(prop.get("id", "")).lower() == property_id.lower():
                return str(prop.get("value"))
        return None


@dataclass
class _Upload:
    box: GraphMailbox
    message_id: str
    name: str
    content_type: str
    size: int
    received: bytearray = field(default_factory=bytearray)


@dataclass
class GraphMailbox:
    address: str
    folders: dict[str, str] = field(default_factory=dict)  # id -> display name
    messages: dict[str, GraphMessage] = field(default_factory=dict)

    def folder_id(self, name: str) -> str | None:
        for fid, display in self.folders.items():
            if display.lower() == name.lower():
                return fid
        return None

    def in_folder(self, folder: str) -> list[GraphMessage]:
        fid = self.folder_id(folder)
        return [m for m in self.messages.values() if m.folder_id == fid]

    def raws_in(self, folder: str) -> list[bytes]:
        return [m.raw for m in self.in_folder(folder)]

    def subjects_in(self, folder: str) -> list[str]:
        return sorted(m.subject for m in self.in_folder(folder))


class GraphServer:
    """The fake; a context manager serving HTTPS in a background thread."""

    def __init__(self, client_id: str, client_secret: str, tenant: str = "contoso.example") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = tenant
        self.tokens: set[str] = set()
        self.mailboxes: dict[str, GraphMailbox] = {}
        self.failures: dict[str, int] = {}
        self.throttle: dict[str, int] = {}
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status)
        self.page_size = 2
        self.ca_file = Path()
        self._version = itertools.count(1)
        self._deltas: dict[str, tuple[str, int]] = {}  # delta token -> (folder id, version seen)
        self._uploads: dict[str, _Upload] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._dir = ""
        self.port = 0

    @property
    def authority(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1.0"

    def mailbox(self, address: str) -> GraphMailbox:
        key = address.lower()
        if key not in self.mailboxes:
            box = GraphMailbox(key)
            box.folders[uuid.uuid4().hex] = "Inbox"
            self.mailboxes[key] = box
        return self.mailboxes[key]

    def deliver(self, address: str, raw: bytes) -> None:
        box = self.mailbox(address)
        with self._lock:
            mid = uuid.uuid4().hex
            inbox = box.folder_id("Inbox")
            assert inbox is not None
            box.messages[mid] = GraphMessage(mid, raw, inbox, next(self._version))

    def revoke(self) -> None:
        self.tokens.clear()

    def forget_deltas(self) -> None:
        """Expire every delta token (Graph answers 410 SyncStateNotFound to them)."""
        self._deltas.clear()

    def __enter__(self) -> GraphServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_POST(self) -> None:
                server._dispatch(self, "POST")

            def do_PUT(self) -> None:
                server._dispatch(self, "PUT")

        self._dir = tempfile.mkdtemp(prefix="umfax-graph-")
        ca = make_ca(Path(self._dir), "umfax test Graph CA")
        cert, key = Path(self._dir) / "graph.pem", Path(self._dir) / "graph.key"
        make_server_cert(ca, cert, key)
        self.ca_file = ca.cert_file
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, name="fake-graph", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- protocol ----------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        with self._lock:
            if length > MAX_REQUEST:
                status, headers, payload = _error(413, "RequestEntityTooLarge", "The request is too large.")
            else:
                status, headers, payload = self._answer(method, path, query, handler.headers, body)
            self.calls.append((method, path, status))
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: bytes
    ) -> Answer:
        if method == "GET" and path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            return self._openid()
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            return self._token(body)
        if method == "PUT" and path.startswith("/upload/"):
            return self._upload_chunk(path.removeprefix("/upload/"), headers, body)
        if not path.startswith("/v1.0/users/"):
            return _error(404, "ResourceNotFound", f"no resource {path}")
        auth = str(headers.get("Authorization", ""))
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        rest = path.removeprefix("/v1.0/users/").split("/")
        box = self.mailboxes.get(rest[0].lower())
        if box is None:
            return _error(404, "ErrorInvalidUser", f"The requested user '{rest[0]}' is invalid.")
        return self._mailbox(box, method, rest[1:], query, body)

    def _mailbox(
        self, box: GraphMailbox, method: str, rest: list[str], query: dict[str, list[str]], body: bytes
    ) -> Answer:
        if rest == ["mailFolders"] and method == "GET":
            items = [{"id": fid, "displayName": name} for fid, name in box.folders.items()]
            return _json({"value": items})
        if rest == ["mailFolders"] and method == "POST":
            name = json.loads(body)["displayName"]
            if box.folder_id(name):
                return _error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
            fid = uuid.uuid4().hex
            box.folders[fid] = name
            return _json({"id": fid, "displayName": name}, 201)
        if len(rest) >= 2 and rest[0] == "mailFolders":
            folder = self._folder(box, rest[1])
            if folder is None:
                return _not_found()
            if len(rest) == 2 and method == "GET":
                return _json({"id": folder, "displayName": box.folders[folder]})
            if rest[2:] == ["messages", "delta"] and method == "GET":
                if self.throttle.get("delta", 0) > 0:
                    self.throttle["delta"] -= 1
                    status, _, payload = _error(429, "ApplicationThrottled", "Too many requests.")
                    return status, {"Content-Type": "application/json", "Retry-After": "0"}, payload
                return self._delta(box, folder, query)
            if rest[2:] == ["messages"] and method == "POST":
                return self._create(box, folder, body)
        if len(rest) >= 3 and rest[0] == "messages":
            message = box.messages.get(rest[1])
            if message is None:
                return _not_found()
            if rest[2:] == ["$value"] and method == "GET":
                return 200, {"Content-Type": "text/plain"}, message.raw
            if rest[2:] == ["move"] and method == "POST":
                return self._move(box, message, body)
            if rest[2:] == ["attachments"] and method == "POST":
                return self._attach(message, json.loads(body))
            if rest[2:] == ["attachments", "createUploadSession"] and method == "POST":
                return self._upload_session(box, message, json.loads(body))
        return _error(400, "BadRequest", f"unsupported {method} /{'/'.join(rest)}")

    @staticmethod
    def _folder(box: GraphMailbox, name: str) -> str | None:
        if name in box.folders:
            return name
        if name.lower() == "inbox":  # the only well-known folder here
            return box.folder_id("Inbox")
        return None

    def _openid(self) -> Answer:
        base = f"{self.authority}/{self.tenant}"
        return _json(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            }
        )

    def _token(self, body: bytes) -> Answer:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials" or not form.get("scope", "").endswith("/.default"):
            return _json({"error": "invalid_request", "error_description": "AADSTS900144: bad grant"}, 400)
        if form.get("client_id") != self.client_id:
            return _json({"error": "unauthorized_client", "error_description": "AADSTS700016: no app"}, 400)
        if form.get("client_secret") != self.client_secret:
            description = "AADSTS7000215: Invalid client secret provided."
            return _json({"error": "invalid_client", "error_description": description}, 401)
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return _json({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    def _move(self, box: GraphMailbox, message: GraphMessage, body: bytes) -> Answer:
        if self.failures.get("move", 0) > 0:
            self.failures["move"] -= 1
            status, _, payload = _error(503, "ServiceUnavailable", "The service is temporarily unavailable.")
            return status, {"Content-Type": "application/json", "Retry-After": "0"}, payload
        target = json.loads(body).get("destinationId")
        if target not in box.folders:
            return _error(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        del box.messages[message.id]
        moved = GraphMessage(
            uuid.uuid4().hex, message.raw, target, next(self._version), message.resource, message.attachments
        )
        box.messages[moved.id] = moved
        return _json({"id": moved.id, "parentFolderId": target}, 201)

    def _create(self, box: GraphMailbox, folder: str, body: bytes) -> Answer:
        try:
            resource = json.loads(body)
        except ValueError:
            return _error(400, "BadRequest", "Unable to read JSON request payload.")
        if not isinstance(resource, dict) or not isinstance(resource.get("subject", ""), str):
            return _error(400, "BadRequest", "Invalid message.")
        message = GraphMessage(uuid.uuid4().hex, b"", folder, next(self._version))
        for item in resource.pop("attachments", []):
            status, _, payload = self._attach(message, item)
            if status != 201:
                return status, {"Content-Type": "application/json"}, payload
        message.resource = resource
        box.messages[message.id] = message
        answer = dict(resource, id=message.id, parentFolderId=folder, isDraft=message.is_draft)
        return _json(answer, 201)

    @staticmethod
    def _attach(message: GraphMessage, item: dict[str, Any]) -> Answer:
        if item.get("@odata.type") != "#microsoft.graph.fileAttachment" or not item.get("name"):
            return _error(400, "BadRequest", "An attachment needs @odata.type fileAttachment and a name.")
        try:
            content = base64.b64decode(str(item.get("contentBytes", "")), validate=True)
        except ValueError:
            return _error(400, "BadRequest", "contentBytes is not base64.")
        if len(content) > MAX_SIMPLE_ATTACHMENT:
            return _error(413, "ErrorAttachmentSizeLimitExceeded", "Use an upload session above 3 MB.")
        attachment = GraphAttachment(
            str(item["name"]),
            str(item.get("contentType", "application/octet-stream")),
            content,
            bool(item.get("isInline", False)),
            str(item.get("contentId") or ""),
        )
        message.attachments.append(attachment)
        return _json({"id": uuid.uuid4().hex, "name": attachment.name, "size": len(content)}, 201)

    def _upload_session(self, box: GraphMailbox, message: GraphMessage, body: dict[str, Any]) -> Answer:
        item = body.get("AttachmentItem") or {}
        if item.get("attachmentType") != "file" or not item.get("name") or int(item.get("size", 0)) <= 0:
            return _error(400, "BadRequest", "AttachmentItem needs attachmentType file, name and size.")
        token = uuid.uuid4().hex
        self._uploads[token] = _Upload(
            box, message.id, str(item["name"]), str(item.get("contentType", "")), int(item["size"])
        )
        url = f"{self.authority}/upload/{token}"
        expires = "2099-01-01T00:00:00Z"
        return _json({"uploadUrl": url, "nextExpectedRanges": ["0-"], "expirationDateTime": expires})

    def _upload_chunk(self, token: str, headers: Any, body: bytes) -> Answer:
        upload = self._uploads.get(token)
        if upload is None:
            return _not_found()
        if headers.get("Authorization"):
            return _error(401, "InvalidAuthenticationToken", "The upload URL carries its own credential.")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", str(headers.get("Content-Range", "")))
        if not match:
            return _error(400, "InvalidContentRange", "Content-Range is missing or malformed.")
        first, last, total = (int(g) for g in match.groups())
        if total != upload.size or first != len(upload.received) or last - first + 1 != len(body):
            return _error(416, "InvalidRange", "The range is not the next expected one.")
        if last + 1 < total and len(body) % UPLOAD_CHUNK:
            return _error(400, "InvalidChunkSize", "Chunks must be a multiple of 320 KiB, except the last.")
        upload.received += body
        if len(upload.received) < total:
            return _json({"nextExpectedRanges": [f"{len(upload.received)}-"]})
        del self._uploads[token]
        message = upload.box.messages.get(upload.message_id)
        if message is None:
            return _not_found()
        message.attachments.append(GraphAttachment(upload.name, upload.content_type, bytes(upload.received)))
        return 201, {"Location": f"{self.graph_url}/attachments/{uuid.uuid4().hex}"}, b""

    def _delta(self, box: GraphMailbox, fid: str, query: dict[str, list[str]]) -> Answer:
        base = f"{self.graph_url}/users/{box.address}/mailFolders/{fid}/messages/delta"
        skip = int(query.get("$skiptoken", ["0"])[0])
        seen = 0
        if "$deltatoken" in query:
            token = query["$deltatoken"][0]
            if token not in self._deltas:
                return _error(410, "SyncStateNotFound", "The sync state was not found.")
            seen = self._deltas[token][1]
        elif "$skiptoken" in query:
            seen = int(query.get("since", ["0"])[0])
        changed = sorted(
            (m for m in box.messages.values() if m.folder_id == fid and m.version > seen),
            key=lambda m: m.version,
        )
        page = changed[skip : skip + self.page_size]
        result: dict[str, Any] = {"value": [{"id": m.id} for m in page]}
        if skip + self.page_size < len(changed):
            result["@odata.nextLink"] = f"{base}?$skiptoken={skip + self.page_size}&since={seen}"
        else:
            token = uuid.uuid4().hex
            top = max([seen] + [m.version for m in changed])
            self._deltas[token] = (fid, top)
            result["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
        return _json(result)


def _json(value: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def _error(status: int, code: str, message: str) -> Answer:
    return _json({"error": {"code": code, "message": message}}, status)


def _not_found() -> Answer:
    return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
