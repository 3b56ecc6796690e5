"""Stdlib logging with structured fields: ``logger.info("msg", extra={"job": 7})``.

Text format appends the fields as ``key=value``; JSON format writes one object a line.
Secrets never reach a log record: they are never put in ``extra``.  Error text is bounded
where it is made (:func:`umfax.errors.describe_error`); a traceback's lines are bounded here,
as its last line repeats the exception's whole message.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

#: The longest line of a traceback in a log record; longer ones are cut.
MAX_TRACEBACK_LINE = 500

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def bound_traceback(text: str, limit: int = MAX_TRACEBACK_LINE) -> str:
    """``text`` (a formatted traceback) with every line cut to ``limit`` characters."""
    return "\n".join(
        line if len(line) <= limit else f"{line[:limit]}… (+{len(line) - limit} chars)"
        for line in text.split("\n")
    )


class _BoundedTracebacks(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return bound_traceback(super().formatException(ei))


class TextFormatter(_BoundedTracebacks):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = _fields(record)
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return text


class JsonFormatter(_BoundedTracebacks):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Chatty libraries; imapclient's protocol log and aiosmtpd's session log would also
    # carry message bodies at DEBUG.
    for noisy in ("apscheduler", "alembic", "sqlalchemy", "imapclient", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
