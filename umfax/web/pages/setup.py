"""``/setup/{token}``: the one-time link ``umfax serve`` prints creates the first administrator."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from umfax.store.accounts import AccountError, AccountStore, check_password_strength
from umfax.web.audit import audit
from umfax.web.context import web_context
from umfax.web.deps import csrf_checked
from umfax.web.pages.signin import start_session
from umfax.web.render import render
from umfax.web.sessions import session_store

router = APIRouter()

GONE = (
    "This setup link was used already or has expired. Restart `umfax serve` for a new one "
    "(it prints one while no administrator exists), or run `umfax user add NAME EMAIL --admin`."
)


def _valid(request: Request, token: str) -> bool:
    context = web_context(request)
    accounts = AccountStore(context.store, context.config)
    return not accounts.has_admin() and session_store(context.config, context.store).setup_token_valid(token)


def _form(
    request: Request, token: str, *, status: int = 200, error: str = "", name: str = "", email: str = ""
) -> Response:
    return render(
        request,
        "setup.html",
        status=status,
        title="Create the first administrator",
        token=token,
        error=error,
        name=name,
        email=email,
    )


@router.get("/setup/{token}", response_class=HTMLResponse)
def setup_form(request: Request, token: str) -> Response:
    if not _valid(request, token):
        return render(request, "error.html", status=404, title="Setup link not valid", message=GONE)
    return _form(request, token)


@router.post("/setup/{token}", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)])
async def setup(
    request: Request,
    token: str,
    name: str = Form(""),
    email: str = Form(""),
    password: str = Form(""),
    password_again: str = Form(""),
) -> Response:
    context = web_context(request)
    if not await run_in_threadpool(_valid, request, token):
        return render(request, "error.html", status=404, title="Setup link not valid", message=GONE)
    name, email = name.strip(), email.strip()
    error = ""
    if password != password_again:
        error = "The two passwords differ; type the same one twice."
    else:
        try:
            check_password_strength(password)
        except AccountError as exc:
            error = str(exc).capitalize() + "."
    if error:
        return _form(request, token, status=400, error=error, name=name, email=email)
    sessions = session_store(context.config, context.store)
    if not await run_in_threadpool(sessions.use_setup_token, token):
        return render(request, "error.html", status=404, title="Setup link not valid", message=GONE)
    accounts = AccountStore(context.store, context.config)
    try:
        account = await run_in_threadpool(lambda: accounts.create(name, email, password=password, admin=True))
    except AccountError as exc:
        # the link is spent; give a fresh one so the person can correct the form
        fresh = await run_in_threadpool(sessions.create_setup_token)
        return _form(request, fresh, status=400, error=str(exc), name=name, email=email)
    audit(request, account.web_user(), "setup", "user", account.user_id, "first administrator")
    return start_session(request, account, second_factor_done=True, to="/")
