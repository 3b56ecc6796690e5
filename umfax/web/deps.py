"""Request dependencies of console pages: the signed-in person, admins only, CSRF.

The session middleware (:mod:`umfax.web.sessions`) puts the signed-in person in
``request.state.web_user`` and the session's token in ``request.state.csrf_token``.
Page routes take ``user: WebUser = Depends(current_user)`` (or ``current_admin``), and
every route that changes something takes ``dependencies=[Depends(csrf_checked)]``.
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from fastapi import Depends, Request

from umfax.web.identity import WebUser


class ConsoleError(Exception):
    """The root of the console's own errors, each answered by a handler in :mod:`umfax.web.app`."""


class SignInNeeded(ConsoleError):
    """No one is signed in: the console answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.location = "/signin?next=" + quote(next_path, safe="/")


class Forbidden(ConsoleError):
    """Signed in, but not allowed here (or the record is not theirs: then 404 instead)."""


class CsrfRefused(ConsoleError):
    """A changing request without the session's CSRF token."""


def current_user(request: Request) -> WebUser:
    user: WebUser | None = getattr(request.state, "web_user", None)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target)
    return user


def current_admin(user: WebUser = Depends(current_user)) -> WebUser:  # noqa: B008
    if not user.admin:
        raise Forbidden("this page is for administrators")
    return user


async def csrf_checked(request: Request) -> None:
    """The request carries the session's CSRF token: a form field ``csrf_token`` or the
    ``X-CSRF-Token`` header (scripts)."""
    expected: str = getattr(request.state, "csrf_token", "")
    given = request.headers.get("x-csrf-token", "")
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else ""
    if not expected or not hmac.compare_digest(expected, given):
        raise CsrfRefused("the form is out of date; reload the page and try again")
