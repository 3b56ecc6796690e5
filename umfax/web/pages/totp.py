"""The second factor: ``/signin/totp`` (the code, after the password) and
``/account/totp`` (setting up an authenticator app; forced by ``[console] require_totp``).

Until the code is given, the session belongs to a "pending" person
(``request.state.pending_user``), who can reach only these pages.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from umfax.store.accounts import AccountStore
from umfax.store.signin_guard import SigninGuard
from umfax.store.web_sessions import FoundSession
from umfax.web.audit import audit, client_address
from umfax.web.context import web_context
from umfax.web.deps import SignInNeeded, csrf_checked
from umfax.web.identity import WebUser
from umfax.web.pages.signin import local_path
from umfax.web.render import render
from umfax.web.second_factor import code_matches, new_secret, provisioning_uri, seal, unseal
from umfax.web.sessions import session_store

router = APIRouter()


def _session(request: Request) -> FoundSession:
    found: FoundSession | None = getattr(request.state, "web_session", None)
    if found is None:
        raise SignInNeeded(request.url.path)
    return found


def _finish(request: Request, found: FoundSession, next_path: str) -> Response:
    """The second factor is done: the session is a full one now."""
    context = web_context(request)
    session_store(context.config, context.store).second_factor_passed(found.id)
    audit(request, found.user, "signin", detail="with TOTP")
    return RedirectResponse(local_path(next_path), status_code=303)


@router.get("/signin/totp", response_class=HTMLResponse)
def code_form(request: Request, next: str = "/") -> Response:
    found = _session(request)
    if found.second_factor_done:
        return RedirectResponse(local_path(next), status_code=303)
    return render(request, "totp_code.html", title="Your code", next=local_path(next), error="")


@router.post("/signin/totp", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)])
async def code_given(request: Request, code: str = Form(""), next: str = Form("/")) -> Response:
    found = _session(request)
    if found.second_factor_done:
        return RedirectResponse(local_path(next), status_code=303)
    context = web_context(request)
    guard = SigninGuard(context.store, context.config.console)
    refusal = await run_in_threadpool(guard.refusal, found.user.name, client_address(request))
    if refusal is not None:
        return render(
            request,
            "totp_code.html",
            status=429,
            title="Your code",
            next=local_path(next),
            error=refusal.message,
        )
    stored = await run_in_threadpool(AccountStore(context.store, context.config).totp_secret, found.user.id)
    if stored and code_matches(unseal(context.config, stored), code):
        await run_in_threadpool(guard.succeeded, found.user.id)
        return _finish(request, found, next)
    failures = await run_in_threadpool(guard.failed, found.user.name, client_address(request))
    audit(request, found.user, "signin_failed", "user", found.user.id, "wrong TOTP code")
    await asyncio.sleep(min(context.config.console.failure_delay * failures, 10.0))
    return render(
        request,
        "totp_code.html",
        status=401,
        title="Your code",
        next=local_path(next),
        error="That code is not right. Codes change every 30 seconds: type the one your app shows now.",
    )


def _enrol_page(
    request: Request, user: WebUser, secret: str, next_path: str, *, status: int = 200, error: str = ""
) -> Response:
    return render(
        request,
        "totp_enrol.html",
        status=status,
        title="Set up your authenticator app",
        secret=secret,
        uri=provisioning_uri(secret, user.email or user.name),
        next=next_path,
        error=error,
        forced=getattr(request.state, "web_user", None) is None,
    )


@router.get("/account/totp", response_class=HTMLResponse)
def enrol_form(request: Request, next: str = "/") -> Response:
    found = _session(request)
    context = web_context(request)
    if not found.second_factor_done and AccountStore(context.store, context.config).totp_secret(
        found.user.id
    ):
        return RedirectResponse("/signin/totp?next=" + quote(local_path(next)), status_code=303)
    return _enrol_page(request, found.user, new_secret(), local_path(next))


@router.post("/account/totp", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)])
def enrol(request: Request, secret: str = Form(""), code: str = Form(""), next: str = Form("/")) -> Response:
    found = _session(request)
    context = web_context(request)
    accounts = AccountStore(context.store, context.config)
    if not found.second_factor_done and accounts.totp_secret(found.user.id):
        return RedirectResponse("/signin/totp?next=" + quote(local_path(next)), status_code=303)
    secret = secret.strip().upper()
    if len(secret) < 16 or not code_matches(secret, code):
        return _enrol_page(
            request,
            found.user,
            secret if len(secret) >= 16 else new_secret(),
            local_path(next),
            status=400,
            error="That code does not match. Check the app shows umfax and type its current code.",
        )
    accounts.set_totp_secret(found.user.id, seal(context.config, secret))
    audit(request, found.user, "change", "user", found.user.id, "set up TOTP")
    if not found.second_factor_done:
        return _finish(request, found, next)
    return RedirectResponse(local_path(next), status_code=303)
