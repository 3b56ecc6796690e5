"""The public fields of the store's records: what `--json`, the REST API and webhooks show."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

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
    "result",
    "message",
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
