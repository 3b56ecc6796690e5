"""``/signin`` and ``/signout``: password sign-in, then the second factor when there is one.

A successful password starts a new session (never reusing one: no session fixation).
With a TOTP secret, or ``[console] require_totp``, the session first only allows
``/signin/totp`` (the code) or ``/account/totp`` (setting the factor up); see
:mod:`umfax.web.pages.totp`.  Failures are slowed down and locked out by
:mod:`umfax.store.signin_guard`, and audited.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from umfax.store.accounts import AccountInfo, AccountStore
from umfax.store.signin_guard import SigninGuard
from umfax.web.audit import audit, client_address
from umfax.web.context import web_context
from umfax.web.deps import csrf_checked
from umfax.web.identity import WebUser
from umfax.web.render import render
from umfax.web.sessions import SESSION_COOKIE, cookie_header, secure_cookies, session_store

router = APIRouter()


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site (not ``//host``, no scheme), else ``default``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\r\n\\") or target.startswith(("/signin", "/signout")):
        return default
    return target


def start_session(request: Request, account: AccountInfo, *, second_factor_done: bool, to: str) -> Response:
    """A fresh session for ``account`` (the old one, if any, ended) and a redirect to ``to``."""
    context = web_context(request)
    sessions = session_store(context.config, context.store)
    old = request.cookies.get(SESSION_COOKIE, "")
    if old:
        sessions.end(old)
    new = sessions.start(
        account.user_id,
        second_factor_done=second_factor_done,
        address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    response = RedirectResponse(to, status_code=303)
    secure = secure_cookies(context.config, request.url.scheme)
    response.headers.append(
        "set-cookie",
        cookie_header(
            SESSION_COOKIE, new.token, secure=secure, max_age=int(context.config.console.session_lifetime)
        ),
    )
    return response


def after_password(request: Request, account: AccountInfo, next_path: str) -> Response:
    """Where a correct password leads: the code, setting up a second factor, or in."""
    config = web_context(request).config
    if account.has_totp:
        return start_session(
            request, account, second_factor_done=False, to="/signin/totp?next=" + quote(next_path)
        )
    if config.console.require_totp:
        return start_session(
            request, account, second_factor_done=False, to="/account/totp?next=" + quote(next_path)
        )
    audit(request, account.web_user(), "signin")
    return start_session(request, account, second_factor_done=True, to=next_path)


def signin_page(
    request: Request, next_path: str, *, status: int = 200, login: str = "", error: str = ""
) -> Response:
    providers = web_context(request).config.console.oidc
    return render(
        request,
        "signin.html",
        status=status,
        title="Sign in",
        next=next_path,
        login=login,
        error=error,
        providers=providers,
    )


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/") -> Response:
    if getattr(request.state, "web_user", None) is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return signin_page(request, local_path(next))


@router.post("/signin", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)])
async def signin(
    request: Request,
    login: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    context = web_context(request)
    target = local_path(next)
    login = login.strip()
    guard = SigninGuard(context.store, context.config.console)
    address = client_address(request)
    refusal = await run_in_threadpool(guard.refusal, login, address)
    if refusal is not None:
        audit(request, None, "signin_failed", "user", None, f"{login[:100]}: {refusal.reason}")
        return signin_page(request, target, status=429, login=login, error=refusal.message)
    accounts = AccountStore(context.store, context.config)
    account = (
        await run_in_threadpool(accounts.verify_password, login, password) if login and password else None
    )
    if account is None:
        failures = await run_in_threadpool(guard.failed, login, address)
        audit(request, None, "signin_failed", "user", None, login[:100])
        await asyncio.sleep(min(context.config.console.failure_delay * failures, 10.0))
        return signin_page(
            request,
            target,
            status=401,
            login=login,
            error="That name and password do not match an account that may sign in.",
        )
    await run_in_threadpool(guard.succeeded, account.user_id)
    return after_password(request, account, target)


@router.post("/signout", dependencies=[Depends(csrf_checked)])
def signout(request: Request) -> Response:
    context = web_context(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    user: WebUser | None = getattr(request.state, "web_user", None) or getattr(
        request.state, "pending_user", None
    )
    if token:
        session_store(context.config, context.store).end(token)
    if user is not None:
        audit(request, user, "signout")
    response = RedirectResponse("/signin", status_code=303)
    secure = secure_cookies(context.config, request.url.scheme)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", secure=secure, max_age=0))
    return response
