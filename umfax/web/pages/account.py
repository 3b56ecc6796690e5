"""``/account``: the signed-in person's own sign-in: change the password, set up TOTP."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from umfax.store.accounts import AccountError, AccountStore
from umfax.web.audit import audit
from umfax.web.context import web_context
from umfax.web.deps import csrf_checked, current_user
from umfax.web.identity import WebUser
from umfax.web.render import render

router = APIRouter()


def _page(request: Request, user: WebUser, *, status: int = 200, error: str = "", done: str = "") -> Response:
    context = web_context(request)
    account = AccountStore(context.store, context.config).by_id(user.id)
    return render(
        request, "account.html", status=status, title="Your account", account=account, error=error, done=done
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: WebUser = Depends(current_user)) -> Response:  # noqa: B008
    return _page(request, user)


@router.post("/account/password", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)])
async def change_password(
    request: Request,
    current: str = Form(""),
    password: str = Form(""),
    password_again: str = Form(""),
    user: WebUser = Depends(current_user),  # noqa: B008
) -> Response:
    context = web_context(request)
    accounts = AccountStore(context.store, context.config)
    if await run_in_threadpool(accounts.verify_password, user.name, current) is None:
        return _page(request, user, status=400, error="Your current password is not right.")
    if password != password_again:
        return _page(
            request, user, status=400, error="The two new passwords differ; type the same one twice."
        )
    try:
        await run_in_threadpool(accounts.set_password, user.name, password)
    except AccountError as exc:
        return _page(request, user, status=400, error=str(exc).capitalize() + ".")
    audit(request, user, "change", "user", user.id, "changed own password")
    return _page(request, user, done="Your password is changed.")
