"""The public fields of the store's records: what `--json`, the REST API and webhooks show."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from umfax.states import LineState

if TYPE_CHECKING:
    from umfax.config import Config
    from umfax.store.models import LineReport

JOB_FIELDS = [
    "id",
    "state",
    "number",
    "recipient_name",
    "sender",
    "subject",
    "priority",
    "page_count",
    "pages_done",
    "tries",
    "dials",
    "max_tries",
    "max_dials",
    "status",
    "last_cause",
    "source",
    "created_at",
    "not_before",
    "kill_at",
    "completed_at",
]

ATTEMPT_FIELDS = [
    "id",
    "line",
    "dialled",
    "started_at",
    "connected_at",
    "ended_at",
    "remote_id",
    "bit_rate",
    "encoding",
    "ecm",
    "resolution",
    "transport",
    "pages_sent",
    "pages_total",
    "result",
    "message",
]

INBOUND_FIELDS = [
    "id",
    "state",
    "line",
    "caller_number",
    "caller_name",
    "called_number",
    "remote_id",
    "started_at",
    "ended_at",
    "pages",
    "bit_rate",
    "encoding",
    "ecm",
    "transport",
    "result",
    "message",
    "kind",
]


def public(row: Any, fields: list[str]) -> dict[str, Any]:
    """``row``'s ``fields`` as JSON values (times in ISO 8601)."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        out[name] = value
    return out


def line_rows(config: Config, states: Iterable[LineReport]) -> list[dict[str, Any]]:
    """Each configured line with the state its server last reported (``line.schema.json``);
    ``stale`` when a running line's server has not reported for a while (is it down?)."""
    by_name = {row.name: row for row in states}
    since = datetime.now(UTC) - timedelta(seconds=max(90.0, config.queue.poll_interval * 10))
    rows: list[dict[str, Any]] = []
    for line in config.lines:
        row = by_name.get(line.name)
        state = LineState(row.state) if row else LineState.UNKNOWN
        stale = bool(row and state is not LineState.STOPPED and row.updated_at < since)
        rows.append(
            {
                "name": line.name,
                "port": line.port,
                "number": line.number,
                "enabled": line.enabled,
                "state": (state if line.enabled else LineState.DISABLED).value,
                "stale": stale,
                "detail": row.detail if row else "",
                "job": row.job_id if row else None,
                "updated_at": row.updated_at.isoformat() if row else None,
                "node": row.node if row else None,
                "registration": (row.registration or None) if row else None,
            }
        )
    return rows
