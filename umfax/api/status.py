"""/api/v1/lines, /healthz and /metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from umfax.api.faxes import authorized, context_of
from umfax.errors import StoreError, describe_error
from umfax.lifecycle import QUEUE_STATES, JobState
from umfax.records import line_rows
from umfax.states import IN_SERVICE
from umfax.store import stats
from umfax.store.models import utcnow

router = APIRouter(tags=["status"])

#: A line whose server has not reported for this long is shown as stale.
STALE_AFTER = timedelta(seconds=60)


@router.get("/api/v1/lines", summary="Each line's number and state")
def lines(request: Request) -> dict[str, Any]:
    context, _ = authorized(request, "lines:read")
    return {"lines": line_rows(context.config, context.store.line_states())}


@router.get("/healthz", summary="Store, lines and connectors (no key needed)")
def healthz(request: Request) -> JSONResponse:
    context = context_of(request)
    checks: dict[str, Any] = {}
    healthy = True
    try:
        stats.ping(context.store)
        checks["store"] = {"ok": True, "dialect": context.store.dialect}
        now = utcnow()
        line_rows = context.store.line_states()
        checks["lines"] = {
            line.name: {
                "ok": line.state in IN_SERVICE and now - line.updated_at <= STALE_AFTER,
                "state": line.state,
                "detail": line.detail,
                **({"registration": line.registration} if line.registration else {}),
            }
            for line in line_rows
        }
    except StoreError as exc:
        healthy = False
        checks["store"] = {"ok": False, "error": describe_error(exc)}
        checks["lines"] = {}
    checks["connectors"] = context.connector_health()
    lines_ok = [c["ok"] for c in checks["lines"].values()]
    if lines_ok and not any(lines_ok):
        healthy = False  # no line can carry a fax
    status = "ok" if healthy and all(lines_ok) else ("degraded" if healthy else "down")
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if healthy else 503)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(out: list[str], name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        out.append(f"{name}{labels} {value:g}")


@router.get(
    "/metrics",
    summary="Prometheus metrics (no key needed; bind the API to a trusted network)",
    response_class=PlainTextResponse,
)
def metrics(request: Request) -> PlainTextResponse:
    context = context_of(request)
    numbers = stats.collect(context.store)
    window = stats.UTILISATION_WINDOW.total_seconds()
    out: list[str] = []
    _family(
        out,
        "umfax_jobs",
        "gauge",
        "Fax jobs by state.",
        [(f'{{state="{s}"}}', numbers.jobs_by_state.get(s, 0)) for s in JobState],
    )
    _family(
        out,
        "umfax_queue_depth",
        "gauge",
        "Jobs waiting to be sent (pending, converting, queued).",
        [("", sum(numbers.jobs_by_state.get(s, 0) for s in QUEUE_STATES))],
    )
    _family(
        out,
        "umfax_pages_sent_total",
        "counter",
        "Pages confirmed by the far end.",
        [("", numbers.pages_sent)],
    )
    _family(out, "umfax_pages_received_total", "counter", "Pages received.", [("", numbers.pages_received)])
    _family(
        out, "umfax_faxes_received_total", "counter", "Incoming fax calls.", [("", numbers.faxes_received)]
    )
    _family(
        out,
        "umfax_calls_total",
        "counter",
        "Outgoing calls by result.",
        [(f'{{result="{_escape(k)}"}}', v) for k, v in sorted(numbers.calls_by_result.items())],
    )
    _family(
        out,
        "umfax_failures_total",
        "counter",
        "Failed jobs by cause.",
        [(f'{{cause="{_escape(k)}"}}', v) for k, v in sorted(numbers.failures_by_cause.items())],
    )
    names = sorted(set(numbers.lines) | set(numbers.line_busy_seconds))
    _family(
        out,
        "umfax_line_utilisation",
        "gauge",
        "Share of the last hour each line spent in calls.",
        [
            (f'{{line="{_escape(n)}"}}', round(numbers.line_busy_seconds.get(n, 0.0) / window, 4))
            for n in names
        ],
    )
    _family(
        out,
        "umfax_line_up",
        "gauge",
        "1 when the line is in service.",
        [(f'{{line="{_escape(n)}"}}', 1.0 if numbers.lines.get(n) in IN_SERVICE else 0.0) for n in names],
    )
    registered = [row for row in context.store.line_states() if row.registration]
    _family(
        out,
        "umfax_line_registered",
        "gauge",
        "SIP trunk channels: 1 when the trunk's registration (as of the last probe) is good.",
        [
            (f'{{line="{_escape(row.name)}"}}', 1.0 if row.registration.startswith("registered") else 0.0)
            for row in sorted(registered, key=lambda row: row.name)
        ],
    )
    _family(
        out,
        "umfax_outbox",
        "gauge",
        "Notifications by state (dead: given up).",
        [(f'{{state="{_escape(k)}"}}', v) for k, v in sorted(numbers.outbox_by_state.items())],
    )
    return PlainTextResponse("\n".join(out) + "\n", media_type="text/plain; version=0.0.4")
