"""``/admin/routing``: the configured routes and junk list (read-only: they live in the
config file), the console's own routes and junk entries (edited here, tried first), and
a dry run: where a fax from X to Y would go, by the same router the lines use."""

from __future__ import annotations

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from umfax.errors import NotFound
from umfax.routing import CallFacts, InboundRouter, Route
from umfax.store.console_routing import ConsoleRouteStore, ConsoleRouting, InvalidRoute, RouteIn, split_users
from umfax.web.audit import audit
from umfax.web.context import WebContext, web_context
from umfax.web.deps import current_admin
from umfax.web.identity import WebUser
from umfax.web.pages.admin_common import CHANGE, admin_router, done, note, refused
from umfax.web.render import render

router = admin_router()
PATH = "/admin/routing"


def dry_run(web: WebContext, facts: CallFacts) -> tuple[Route, str | None]:
    """The route a fax with ``facts`` would take now (console rules read afresh), and why
    the call would not even be answered, if so."""
    config = web.config
    source = ConsoleRouting(web.store, [user.name for user in config.users], ttl=0.0)
    router_ = InboundRouter(config, source)
    return router_.route(facts), router_.reject_before_answer(facts)


@router.get("/routing", response_class=HTMLResponse)
def routing(
    request: Request,
    web: WebContext = Depends(web_context),  # noqa: B008
    line: str = "",
    called: str = "",
    caller: str = "",
    csi: str = "",
) -> HTMLResponse:
    rows = ConsoleRouteStore(web.store)
    tried = None
    if any((line, called, caller, csi)):
        facts = CallFacts(line.strip(), called.strip(), caller.strip(), csi.strip())
        route, rejected = dry_run(web, facts)
        tried = {"facts": facts, "route": route, "rejected": rejected}
    return render(
        request,
        "admin_routing.html",
        title="Routing",
        note=note(request),
        routing=web.config.routing,
        routes=rows.routes(),
        junk=rows.junk(),
        users=rows.user_names(),
        lines=[line.name for line in web.config.lines],
        tried=tried,
        asked={"line": line, "called": called, "caller": caller, "csi": csi},
    )


def _route_in(users: str, line: str, called: str, caller: str, csi: str, voice: str) -> RouteIn:
    return RouteIn(
        split_users(users), line.strip(), called.strip(), caller.strip(), csi.strip(), voice.strip()
    )


@router.post("/routing/routes", dependencies=CHANGE)
def add_route(
    request: Request,
    users: str = Form(""),
    line: str = Form(""),
    called: str = Form(""),
    caller: str = Form(""),
    csi: str = Form(""),
    voice: str = Form(""),
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        row = ConsoleRouteStore(web.store).add_route(_route_in(users, line, called, caller, csi, voice))
    except InvalidRoute as exc:
        return refused(request, str(exc), 400)
    audit(
        request,
        user,
        "change",
        "route",
        row.id,
        f"added: {users} line={line} called={called} caller={caller} csi={csi} voice={voice}",
    )
    return done(PATH, "route_added")


@router.post("/routing/routes/{route_id}", dependencies=CHANGE)
def edit_route(
    request: Request,
    route_id: int,
    users: str = Form(""),
    line: str = Form(""),
    called: str = Form(""),
    caller: str = Form(""),
    csi: str = Form(""),
    voice: str = Form(""),
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        ConsoleRouteStore(web.store).update_route(
            route_id, _route_in(users, line, called, caller, csi, voice)
        )
    except NotFound as exc:
        return refused(request, str(exc), 404)
    except InvalidRoute as exc:
        return refused(request, str(exc), 400)
    audit(
        request,
        user,
        "change",
        "route",
        route_id,
        f"edited: {users} line={line} called={called} caller={caller} csi={csi} voice={voice}",
    )
    return done(PATH, "route_saved")


@router.post("/routing/routes/{route_id}/delete", dependencies=CHANGE)
def delete_route(
    request: Request,
    route_id: int,
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        ConsoleRouteStore(web.store).delete_route(route_id)
    except NotFound as exc:
        return refused(request, str(exc), 404)
    audit(request, user, "delete", "route", route_id)
    return done(PATH, "route_deleted")


@router.post("/routing/routes/{route_id}/move", dependencies=CHANGE)
def move_route(
    request: Request,
    route_id: int,
    step: int = Form(),
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        ConsoleRouteStore(web.store).move_route(route_id, max(-1000, min(1000, step)))
    except NotFound as exc:
        return refused(request, str(exc), 404)
    audit(request, user, "change", "route", route_id, f"moved {step:+d}")
    return done(PATH, "route_moved")


@router.post("/routing/junk", dependencies=CHANGE)
def add_junk(
    request: Request,
    field: str = Form(),
    pattern: str = Form(),
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        row = ConsoleRouteStore(web.store).add_junk(field, pattern)
    except InvalidRoute as exc:
        return refused(request, str(exc), 400)
    audit(request, user, "change", "junk", row.id, f"added {field} {pattern}")
    return done(PATH, "junk_added")


@router.post("/routing/junk/{junk_id}/delete", dependencies=CHANGE)
def delete_junk(
    request: Request,
    junk_id: int,
    user: WebUser = Depends(current_admin),  # noqa: B008
    web: WebContext = Depends(web_context),  # noqa: B008
) -> Response:
    try:
        ConsoleRouteStore(web.store).delete_junk(junk_id)
    except NotFound as exc:
        return refused(request, str(exc), 404)
    audit(request, user, "delete", "junk", junk_id)
    return done(PATH, "junk_deleted")
