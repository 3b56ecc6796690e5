"""``/admin/lines``: every line's state, current call and use today.  The table refreshes
itself every few seconds (``/static/admin.js`` fetches ``/admin/lines/table``, the same
table as an HTML fragment); without script, the page has a reload link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from umfax.states import LineState
from umfax.store.models import utcnow
from umfax.store.usage import UsageQueries
from umfax.web.context import WebContext, web_context
from umfax.web.pages.admin_common import admin_router
from umfax.web.render import render

router = admin_router()
REFRESH_SECONDS = 3


@dataclass(frozen=True, slots=True)
class LineRow:
    name: str
    state: str
    number: str
    detail: str
    job_id: int | None
    updated_at: datetime | None
    busy_seconds: float
    utilisation: float  # of the day so far, 0..1

    @property
    def in_call(self) -> bool:
        return self.state in (LineState.SENDING, LineState.RECEIVING)


def line_rows(web: WebContext, now: datetime | None = None) -> list[LineRow]:
    """The lines the servers report, then configured lines no server reported on."""
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = max(1.0, (now - midnight).total_seconds())
    busy = UsageQueries(web.store).busy_today(now)
    rows: list[LineRow] = []
    for report in web.store.line_states():
        seconds = busy.get(report.name, 0.0)
        rows.append(
            LineRow(
                report.name,
                report.state,
                report.number,
                report.detail,
                report.job_id,
                report.updated_at,
                seconds,
                min(1.0, seconds / elapsed),
            )
        )
    reported = {row.name for row in rows}
    for line in web.config.lines:
        if line.name not in reported:
            state = LineState.UNKNOWN if line.enabled else LineState.DISABLED
            seconds = busy.get(line.name, 0.0)
            rows.append(
                LineRow(line.name, state, line.number, "", None, None, seconds, min(1.0, seconds / elapsed))
            )
    return rows


@router.get("/lines", response_class=HTMLResponse)
def lines(request: Request, web: WebContext = Depends(web_context)) -> HTMLResponse:  # noqa: B008
    return render(
        request,
        "admin_lines.html",
        title="Lines",
        lines=line_rows(web),
        refresh=REFRESH_SECONDS,
        now=utcnow(),
    )


@router.get("/lines/table", response_class=HTMLResponse)
def lines_table(request: Request, web: WebContext = Depends(web_context)) -> HTMLResponse:  # noqa: B008
    """The table alone, for the page's script."""
    response = render(request, "admin_lines_table.html", title="Lines", lines=line_rows(web), now=utcnow())
    response.headers["Cache-Control"] = "no-store"
    return response
