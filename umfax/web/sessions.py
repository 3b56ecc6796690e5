"""Who is signed in: pure ASGI middleware reading the session cookie.

For every console request (not ``/api/`` nor ``/static/``) it sets, in the request's
state (``request.state``):

- ``web_user``: the signed-in :class:`~umfax.web.identity.WebUser`, or None;
- ``pending_user``: someone who gave their password but not yet their second factor;
- ``web_session``: the :class:`~umfax.store.web_sessions.FoundSession`, or None;
- ``csrf_token``: the session's CSRF token; before sign-in, the token of the
  ``umfax_csrf`` cookie (set here when missing), so the sign-in and setup forms are
  protected too (double submit).

Cookies are HttpOnly, SameSite=Lax, Path=/, and Secure when the request came over https
or ``[api] public_url`` is https.
"""

from __future__ import annotations

import secrets

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from umfax.config import Config
from umfax.store import Store
from umfax.store.web_sessions import FoundSession, SessionStore

SESSION_COOKIE = "umfax_session"
CSRF_COOKIE = "umfax_csrf"
#: Paths the middleware leaves alone.
SKIPPED = ("/api/", "/static/")


def session_store(config: Config, store: Store) -> SessionStore:
    return SessionStore(store, config.console.session_lifetime, config.console.idle_timeout)


def secure_cookies(config: Config, scheme: str) -> bool:
    return scheme == "https" or config.api.public_url.lower().startswith("https://")


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/ (Secure over https); a max_age
    of 0 removes the cookie."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


class Sessions:
    """Put the signed-in person of the session cookie in the request's state."""

    def __init__(self, app: ASGIApp, config: Config, store: Store) -> None:
        self.app = app
        self.config = config
        self.sessions = session_store(config, store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SKIPPED):
            await self.app(scope, receive, send)
            return
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers") or []:
            if name == b"cookie":
                cookies.update(cookie_parser(value.decode("latin-1")))
        token = cookies.get(SESSION_COOKIE, "")
        found: FoundSession | None = None
        if token:
            found = await anyio.to_thread.run_sync(self.sessions.find, token)
        state = scope.setdefault("state", {})
        state["web_session"] = found
        state["web_user"] = found.user if found is not None and found.second_factor_done else None
        state["pending_user"] = found.user if found is not None and not found.second_factor_done else None
        secure = secure_cookies(self.config, scope.get("scheme", "http"))
        set_cookies: list[str] = []
        if found is not None:
            state["csrf_token"] = found.csrf_token
        else:
            if token:  # a stale cookie: forget it
                set_cookies.append(cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0))
            csrf = cookies.get(CSRF_COOKIE, "")
            if len(csrf) < 32:
                csrf = secrets.token_urlsafe(32)
                set_cookies.append(cookie_header(CSRF_COOKIE, csrf, secure=secure))
            state["csrf_token"] = csrf
        if not set_cookies:
            await self.app(scope, receive, send)
            return

        async def with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                answered = {c.partition("=")[0] for c in headers.getlist("set-cookie")}
                for cookie in set_cookies:
                    if cookie.partition("=")[0] not in answered:  # the page's own cookie wins
                        headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, with_cookies)
