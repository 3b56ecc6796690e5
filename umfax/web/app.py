"""The console on the API's FastAPI application: pages, static files, security headers."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from umfax.api.context import ApiContext
from umfax.store.accounts import AccountStore
from umfax.web.context import WebContext
from umfax.web.deps import CsrfRefused, Forbidden, SignInNeeded
from umfax.web.pages import (
    account,
    admin,
    admin_audit,
    admin_keys,
    admin_lines,
    admin_outbox,
    admin_queue,
    admin_routing,
    admin_usage,
    contacts,
    faxes,
    home,
    inbox,
    oidc,
    send,
    setup,
    signin,
    totp,
    users,
)
from umfax.web.render import render
from umfax.web.sessions import Sessions

#: No inline script or style, no framing, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """Add SECURITY_HEADERS to every response outside ``/api/`` (pure ASGI: a body
    still streams, and errors raised while reading the request reach the app's handlers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)


def mount_console(app: FastAPI, api: ApiContext) -> None:
    """Serve the console at ``/`` beside the API."""
    app.state.web = WebContext(api)
    app.state.closers = []  # callables that release what pages started (close_console runs them)
    static = resources.files("umfax.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    AccountStore(api.store, api.config).sync_config(api.config.users)
    for module in (
        home,
        signin,
        totp,
        setup,
        account,
        users,
        oidc,
        admin,
        admin_lines,
        admin_queue,
        admin_routing,
        admin_keys,
        admin_outbox,
        admin_audit,
        admin_usage,
        faxes,
        inbox,
        send,
        contacts,
    ):
        app.include_router(module.router, include_in_schema=False)
    app.add_middleware(Sessions, config=api.config, store=api.store)
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(SignInNeeded)
    async def sign_in(_request: Request, exc: SignInNeeded) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> HTMLResponse:
        return render(request, "error.html", status=403, title="Not allowed", message=str(exc))

    @app.exception_handler(CsrfRefused)
    async def csrf(request: Request, exc: CsrfRefused) -> HTMLResponse:
        return render(request, "error.html", status=403, title="Please try again", message=str(exc))


def close_console(app: FastAPI) -> None:
    """Release what the console's pages started (e.g. the preview converter's child
    process); the API server calls this when it stops."""
    closers: list[Callable[[], None]] = getattr(app.state, "closers", [])
    while closers:
        closers.pop()()
