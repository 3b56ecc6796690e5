"""A fake Microsoft Graph (v1.0 mail) and Entra ID token endpoint on 127.0.0.1 for the
tests, one ThreadingHTTPServer speaking the real wire protocol:

- ``POST /{tenant}/oauth2/v2.0/token``: the OAuth 2.0 client-credentials grant (form
  body: grant_type, client_id, client_secret, scope), checked against ``client_id`` /
  ``client_secret``; errors as Entra ID writes them (``invalid_client``, AADSTS codes).
- ``/v1.0/users/{mailbox}/...``: every call needs ``Authorization: Bearer <token>`` from
  the token endpoint (401 InvalidAuthenticationToken otherwise); mailFolders (GET by id or
  well-known name, list, POST to create), ``mailFolders/{id}/messages/delta`` (pages of
  ``page_size`` with ``@odata.nextLink``, then ``@odata.deltaLink``), ``messages/{id}/$value``
  (the MIME) and ``messages/{id}/move`` (the message gets a new id, as in Exchange Online).

``failures["move"] = n`` makes the next n moves answer 503; ``throttle["delta"] = n`` the
next n delta calls 429 with ``Retry-After: 0``; ``revoke()`` invalidates issued tokens.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class GraphMessage:
    id: str
    raw: bytes
    folder_id: str
    version: int  # the change counter when it last arrived in its folder


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

    def raws_in(self, folder: str) -> list[bytes]:
        fid = self.folder_id(folder)
        return [m.raw for m in self.messages.values() if m.folder_id == fid]

    def subjects_in(self, folder: str) -> list[str]:
        import email

        return sorted(str(email.message_from_bytes(r).get("Subject", "")) for r in self.raws_in(folder))


class GraphServer:
    """The fake; a context manager serving in a background thread."""

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
        self._version = itertools.count(1)
        self._deltas: dict[str, tuple[str, int]] = {}  # delta token -> (folder id, version seen)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def authority(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

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

    def __enter__(self) -> GraphServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server._dispatch(self, "GET")

            def do_POST(self) -> None:
                server._dispatch(self, "POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # -- protocol ----------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query)
        with self._lock:
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
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            return self._token(body)
        if not path.startswith("/v1.0/users/"):
            return _error(404, "ResourceNotFound", f"no resource {path}")
        auth = str(headers.get("Authorization", ""))
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        rest = path.removeprefix("/v1.0/users/").split("/")
        box = self.mailboxes.get(rest[0].lower())
        if box is None:
            return _error(404, "ErrorInvalidUser", f"The requested user '{rest[0]}' is invalid.")
        rest = rest[1:]
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
        if len(rest) == 2 and rest[0] == "mailFolders" and method == "GET":
            found: str | None = rest[1] if rest[1] in box.folders else None
            if found is None and rest[1].lower() == "inbox":  # the only well-known folder here
                found = box.folder_id("Inbox")
            if found is None:
                return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return _json({"id": found, "displayName": box.folders[found]})
        if len(rest) == 4 and rest[0] == "mailFolders" and rest[2:] == ["messages", "delta"]:
            if self.throttle.get("delta", 0) > 0:
                self.throttle["delta"] -= 1
                status, _, payload = _error(429, "ApplicationThrottled", "Too many requests.")
                return status, {"Content-Type": "application/json", "Retry-After": "0"}, payload
            return self._delta(box, rest[1], query)
        if len(rest) == 3 and rest[0] == "messages" and rest[2] == "$value" and method == "GET":
            message = box.messages.get(rest[1])
            if message is None:
                return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return 200, {"Content-Type": "text/plain"}, message.raw
        if len(rest) == 3 and rest[0] == "messages" and rest[2] == "move" and method == "POST":
            if self.failures.get("move", 0) > 0:
                self.failures["move"] -= 1
                status, _, payload = _error(
                    503, "ServiceUnavailable", "The service is temporarily unavailable."
                )
                return status, {"Content-Type": "application/json", "Retry-After": "0"}, payload
            message = box.messages.pop(rest[1], None)
            if message is None:
                return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            target = json.loads(body).get("destinationId")
            if target not in box.folders:
                return _error(400, "ErrorInvalidIdMalformed", "Id is malformed.")
            moved = GraphMessage(uuid.uuid4().hex, message.raw, target, next(self._version))
            box.messages[moved.id] = moved
            return _json({"id": moved.id, "parentFolderId": target}, 201)
        return _error(400, "BadRequest", f"unsupported {method} {path}")

    def _token(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
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

    def _delta(
        self, box: GraphMailbox, folder: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], bytes]:
        fid = folder if folder in box.folders else box.folder_id(folder)
        if fid is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
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


def _json(value: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return _json({"error": {"code": code, "message": message}}, status)
