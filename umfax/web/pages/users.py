"""``/admin/users``: administrators list, add and change console users (role, disable,
password, authenticator app).  [[users]] entries appear too; their role is the
configuration's.  An administrator cannot demote, disable or delete themselves (so the
console is never left without one by accident)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from umfax.store.accounts import AccountError, AccountInfo, AccountStore
from umfax.web.audit import audit
from umfax.web.context import web_context
from umfax.web.deps import csrf_checked, current_admin
from umfax.web.identity import WebUser
from umfax.web.render import render
from umfax.web.sessions import session_store

router = APIRouter()

#: What ``?done=`` says after a change (codes, so a link cannot put words on the page).
DONE = {
    "added": "The user was added.",
    "role": "The role was changed.",
    "disabled": "The user was disabled and signed out.",
    "enabled": "The user can sign in again.",
    "password": "The password was set and the user signed out everywhere.",
    "totp": "The authenticator app was removed; the user signs in with the password alone.",
    "deleted": "The account was deleted; the user's faxes stay.",
}


def _accounts(request: Request) -> AccountStore:
    context = web_context(request)
    return AccountStore(context.store, context.config)


def _page(
    request: Request,
    *,
    status: int = 200,
    error: str = "",
    done: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    rows = _accounts(request).list()
    return render(
        request,
        "users.html",
        status=status,
        title="Users",
        accounts=rows,
        error=error,
        done=DONE.get(done, ""),
        form=form or {"name": "", "email": "", "display_name": ""},
    )


def _target(
    request: Request, user_id: int, admin: WebUser, *, not_self: bool = False
) -> AccountInfo | Response:
    account = _accounts(request).by_id(user_id)
    if account is None:
        return render(request, "error.html", status=404, title="Not found", message="There is no such user.")
    if not_self and account.user_id == admin.id:
        return _page(
            request, status=400, error="You cannot do that to your own account; ask another administrator."
        )
    return account


def _done(code: str) -> Response:
    return RedirectResponse(f"/admin/users?done={code}", status_code=303)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, done: str = "", admin: WebUser = Depends(current_admin)) -> Response:  # noqa: B008
    return _page(request, done=done)


@router.post("/admin/users", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)])
async def add_user(
    request: Request,
    name: str = Form(""),
    email: str = Form(""),
    display_name: str = Form(""),
    role: str = Form("user"),
    password: str = Form(""),
    password_again: str = Form(""),
    admin: WebUser = Depends(current_admin),  # noqa: B008
) -> Response:
    form = {"name": name.strip(), "email": email.strip(), "display_name": display_name.strip()}
    if password != password_again:
        return _page(
            request, status=400, error="The two passwords differ; type the same one twice.", form=form
        )
    accounts = _accounts(request)
    try:
        account = await run_in_threadpool(
            lambda: accounts.create(
                form["name"],
                form["email"],
                display_name=form["display_name"],
                password=password,
                admin=role == "admin",
            )
        )
    except AccountError as exc:
        return _page(request, status=400, error=str(exc).capitalize() + ".", form=form)
    audit(request, admin, "change", "user", account.user_id, f"added {account.name} as {role}")
    return _done("added")


@router.post("/admin/users/{user_id}/role", dependencies=[Depends(csrf_checked)])
def change_role(
    request: Request,
    user_id: int,
    role: str = Form(""),
    admin: WebUser = Depends(current_admin),  # noqa: B008
) -> Response:
    target = _target(request, user_id, admin, not_self=True)
    if isinstance(target, Response):
        return target
    try:
        _accounts(request).set_admin(target.name, role == "admin")
    except AccountError as exc:
        return _page(request, status=400, error=str(exc))
    audit(request, admin, "change", "user", user_id, f"role {'admin' if role == 'admin' else 'user'}")
    return _done("role")


@router.post("/admin/users/{user_id}/disable", dependencies=[Depends(csrf_checked)])
def disable(request: Request, user_id: int, admin: WebUser = Depends(current_admin)) -> Response:  # noqa: B008
    target = _target(request, user_id, admin, not_self=True)
    if isinstance(target, Response):
        return target
    _accounts(request).set_disabled(target.name, True)
    context = web_context(request)
    session_store(context.config, context.store).end_all(user_id)
    audit(request, admin, "change", "user", user_id, "disabled")
    return _done("disabled")


@router.post("/admin/users/{user_id}/enable", dependencies=[Depends(csrf_checked)])
def enable(request: Request, user_id: int, admin: WebUser = Depends(current_admin)) -> Response:  # noqa: B008
    target = _target(request, user_id, admin)
    if isinstance(target, Response):
        return target
    _accounts(request).set_disabled(target.name, False)
    audit(request, admin, "change", "user", user_id, "enabled")
    return _done("enabled")


@router.post(
    "/admin/users/{user_id}/password", response_class=HTMLResponse, dependencies=[Depends(csrf_checked)]
)
async def reset_password(
    request: Request,
    user_id: int,
    password: str = Form(""),
    password_again: str = Form(""),
    admin: WebUser = Depends(current_admin),  # noqa: B008
) -> Response:
    target = _target(request, user_id, admin)
    if isinstance(target, Response):
        return target
    if password != password_again:
        return _page(request, status=400, error="The two passwords differ; type the same one twice.")
    try:
        await run_in_threadpool(_accounts(request).set_password, target.name, password)
    except AccountError as exc:
        return _page(request, status=400, error=str(exc).capitalize() + ".")
    context = web_context(request)
    if user_id != admin.id:
        session_store(context.config, context.store).end_all(user_id)
    audit(request, admin, "change", "user", user_id, "password reset")
    return _done("password")


@router.post("/admin/users/{user_id}/totp-reset", dependencies=[Depends(csrf_checked)])
def reset_totp(request: Request, user_id: int, admin: WebUser = Depends(current_admin)) -> Response:  # noqa: B008
    target = _target(request, user_id, admin)
    if isinstance(target, Response):
        return target
    _accounts(request).reset_totp(target.name)
    audit(request, admin, "change", "user", user_id, "TOTP reset")
    return _done("totp")


@router.post("/admin/users/{user_id}/delete", dependencies=[Depends(csrf_checked)])
def delete(request: Request, user_id: int, admin: WebUser = Depends(current_admin)) -> Response:  # noqa: B008
    target = _target(request, user_id, admin, not_self=True)
    if isinstance(target, Response):
        return target
    try:
        _accounts(request).delete(target.name)
    except AccountError as exc:
        return _page(request, status=400, error=str(exc))
    context = web_context(request)
    session_store(context.config, context.store).end_all(user_id)
    audit(request, admin, "delete", "user", user_id, f"deleted the account of {target.name}")
    return _done("deleted")
