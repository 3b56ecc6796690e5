"""``/admin/usage``: pages sent and received per user and month (and as CSV), with
charts: pages per day over the last 30 days, line busy time by hour of the day, and
failed calls by cause."""

from __future__ import annotations

from datetime import datetime

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from umfax.store.models import utcnow
from umfax.store.usage import MonthlyUsage, UsageQueries, usage_csv
from umfax.web.charts import Series, bar_chart, horizontal_bar_chart
from umfax.web.context import WebContext, web_context
from umfax.web.pages.admin_common import admin_router
from umfax.web.render import render

router = admin_router()
DAYS = 30


def months_back(now: datetime, months: int) -> datetime:
    """Midnight on the first of the month ``months - 1`` months before ``now``'s."""
    index = now.year * 12 + now.month - 1 - (months - 1)
    return now.replace(
        year=index // 12, month=index % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
    )


def monthly(web: WebContext, months: int) -> list[MonthlyUsage]:
    return UsageQueries(web.store).monthly(months_back(utcnow(), max(1, min(months, 120))))


@router.get("/usage", response_class=HTMLResponse)
def usage(
    request: Request,
    web: WebContext = Depends(web_context),  # noqa: B008
    months: int = 12,
) -> HTMLResponse:
    queries = UsageQueries(web.store)
    lines = max(1, len(web.config.lines))
    daily = queries.daily_pages(DAYS)
    titles = (
        f"Pages sent and received per day, last {DAYS} days (UTC)",
        f"Line use by hour of the day, last {DAYS} days (UTC, % of the time of {lines} line(s))",
        f"Failed calls by cause, last {DAYS} days",
    )
    pages_chart = bar_chart(
        "pages-per-day",
        titles[0],
        [d.day[5:] for d in daily],
        [Series("sent", [d.sent for d in daily]), Series("received", [d.received for d in daily])],
        unit="pages",
        label_every=5,
    )
    hours = queries.busy_by_hour(DAYS)
    share = [100.0 * seconds / (lines * DAYS * 3600.0) for seconds in hours]
    busy_chart = bar_chart(
        "line-use",
        titles[1],
        [f"{h:02d}" for h in range(24)],
        [Series("busy", share)],
        unit="%",
        label_every=3,
    )
    failures = queries.failures_by_cause(DAYS)
    failures_chart = horizontal_bar_chart("failures", titles[2], failures, unit="calls")
    return render(
        request,
        "admin_usage.html",
        title="Usage",
        rows=monthly(web, months),
        months=months,
        charts=[  # (caption, SVG built escaped)
            (title, Markup(chart))
            for title, chart in zip(titles, (pages_chart, busy_chart, failures_chart), strict=True)
        ],
    )


@router.get("/usage.csv")
def usage_export(web: WebContext = Depends(web_context), months: int = 12) -> Response:  # noqa: B008
    stamp = utcnow().strftime("%Y-%m-%d")
    return Response(
        usage_csv(monthly(web, months)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="umfax-usage-{stamp}.csv"'},
    )
