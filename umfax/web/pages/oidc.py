"""``/signin/oidc/{name}`` and its callback: sign in with a [[console.oidc]] provider.

The provider's verified email must be a user's email with an enabled account; a second
factor set up in the console is still asked for afterwards.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from umfax.store.accounts import AccountStore
from umfax.web.audit import audit
from umfax.web.context import web_context
from umfax.web.oidc import STATE_COOKIE, STATE_LIFETIME, OidcError, come_back, leave, provider
from umfax.web.pages.signin import after_password, local_path, signin_page
from umfax.web.sessions import cookie_header, secure_cookies

router = APIRouter()


def _redirect_uri(request: Request, name: str) -> str:
    config = web_context(request).config
    base = config.api.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/signin/oidc/{name}/callback"


@router.get("/signin/oidc/{name}")
def start(request: Request, name: str, next: str = "/") -> Response:
    config = web_context(request).config
    chosen = provider(config, name)
    if chosen is None:
        return signin_page(request, "/", status=404, error="There is no such sign-in provider.")
    try:
        leaving = leave(config, chosen, _redirect_uri(request, name), local_path(next))
    except OidcError as exc:
        return signin_page(request, local_path(next), status=502, error=str(exc))
    response = RedirectResponse(leaving.url, status_code=303)
    secure = secure_cookies(config, request.url.scheme)
    response.headers.append(
        "set-cookie", cookie_header(STATE_COOKIE, leaving.cookie, secure=secure, max_age=STATE_LIFETIME)
    )
    return response


@router.get("/signin/oidc/{name}/callback")
def callback(request: Request, name: str, code: str = "", state: str = "", error: str = "") -> Response:
    context = web_context(request)
    chosen = provider(context.config, name)
    if chosen is None:
        return signin_page(request, "/", status=404, error="There is no such sign-in provider.")
    if error or not code:
        return signin_page(
            request,
            "/",
            status=401,
            error=f"The sign-in provider did not sign you in ({error or 'no code'}).",
        )
    try:
        email, next_path = come_back(
            context.config,
            chosen,
            _redirect_uri(request, name),
            request.cookies.get(STATE_COOKIE, ""),
            code,
            state,
        )
    except OidcError as exc:
        audit(request, None, "signin_failed", "user", None, f"{name}: {exc}"[:500])
        return signin_page(request, "/", status=401, error=str(exc).capitalize() + ".")
    account = AccountStore(context.store, context.config).by_email(email)
    if account is None or account.disabled:
        audit(request, None, "signin_failed", "user", None, f"{name}: {email} has no enabled account")
        return signin_page(
            request,
            "/",
            status=403,
            error=f"{email} has no account here that may sign in; ask an administrator to add you.",
        )
    response = after_password(request, account, local_path(next_path))
    secure = secure_cookies(context.config, request.url.scheme)
    response.headers.append("set-cookie", cookie_header(STATE_COOKIE, "", secure=secure, max_age=0))
    return response
