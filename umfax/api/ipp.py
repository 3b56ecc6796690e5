"""``POST /ipp/faxout``: the fax printer on the API's address (IPP over HTTP, RFC 8010 4).

Who prints: HTTP Basic with a user's console password (login: email or user name), or any
login and one of their API keys (scope ``fax:send``) as the password.  From a network in
``[printer] trusted_networks`` a request's ``requesting-user-name`` is believed instead.
Get-Printer-Attributes needs no sign-in (clients ask before printing); other operations
without a user are answered 401 with ``WWW-Authenticate: Basic``, which IPP clients
answer by asking for the password.  Bodies may be chunked (the server reassembles them);
the API's ``max_request_bytes`` bounds them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import time

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from umfax.api.context import ApiContext
from umfax.api.errors import ApiError
from umfax.printer.ports import PrinterEndpoint
from umfax.store.accounts import AccountStore

router = APIRouter(tags=["printer"])

PATH = "/ipp/faxout"
#: A checked password is trusted this long (IPP clients send it with every request;
#: hashing it each time would cost a tenth of a second per request).
SIGNIN_CACHE_SECONDS = 60.0
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="umfax printer"'}


class PrinterSignIn:
    """Checks Basic credentials: an API key, else the console password."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context
        self.accounts = AccountStore(context.store, context.config)
        self._checked: dict[bytes, tuple[float, str]] = {}

    def user(self, login: str, password: str) -> str | None:
        digest = hashlib.sha256(f"{login}\0{password}".encode()).digest()
        now = time.monotonic()
        cached = self._checked.get(digest)
        if cached is not None and now - cached[0] < SIGNIN_CACHE_SECONDS:
            return cached[1]
        name = self._check(login, password)
        if name is not None:
            if len(self._checked) > 1000:
                self._checked.clear()
            self._checked[digest] = (now, name)
        return name

    def _check(self, login: str, password: str) -> str | None:
        owner = self.context.owner(password)
        if owner is not None and "fax:send" in owner.scopes:
            return owner.user_name
        account = self.accounts.verify_password(login, password) if login else None
        return account.name if account is not None else None

    def requesting_user(self, name: str) -> str | None:
        """A user by the name a trusted client gives: user name or email."""
        if name in self.context.users:
            return name
        row = self.context.store.find_user(email=name) if "@" in name else None
        return row.name if row is not None and row.name in self.context.users else None


def _credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, _, password = decoded.partition(":")
    return login, password


def _trusted(request: Request, networks: list[str]) -> bool:
    if not networks or request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


@router.post(PATH, include_in_schema=False)
async def faxout(request: Request) -> Response:
    endpoint: PrinterEndpoint | None = getattr(request.app.state, "printer", None)
    signin: PrinterSignIn | None = getattr(request.app.state, "printer_signin", None)
    if endpoint is None or signin is None:
        raise ApiError(404, "the fax printer is off ([printer] enabled = false)")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/ipp":
        raise ApiError(400, "send IPP requests with Content-Type: application/ipp")
    body = await request.body()
    user = None
    given = _credentials(request)
    if given is not None:
        user = await run_in_threadpool(signin.user, *given)
        if user is None:
            raise ApiError(401, "wrong user name or password for the fax printer", headers=_CHALLENGE)
    config = signin.context.config
    trusted = user is None and _trusted(request, config.printer.trusted_networks)
    host = request.headers.get("host") or config.api.listen
    answer = await run_in_threadpool(
        endpoint.respond, body, user, signin.requesting_user if trusted else None, f"ipp://{host}{PATH}"
    )
    if answer is None:
        raise ApiError(
            401, "sign in to print: your email and console password, or an API key", headers=_CHALLENGE
        )
    return Response(answer, media_type="application/ipp")
