"""/api/v1/cover-templates: the cover page templates a sender may name in
``cover_template`` when submitting a fax (umfax.conversion.cover_templates)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from umfax.api.faxes import authorized
from umfax.conversion.cover_templates import cover_templates, default_name

router = APIRouter(prefix="/api/v1/cover-templates", tags=["faxes"])


def _title(path: Any) -> str:
    """The template's own ``name`` (a description), or "" if it cannot be read."""
    try:
        title = json.loads(path.read_text(encoding="utf-8")).get("name", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return str(title)[:200]


@router.get("", summary="Cover page templates a fax may name")
def list_cover_templates(request: Request) -> dict[str, Any]:
    context, _ = authorized(request, "fax:send")
    fax = context.config.fax
    default = default_name(fax.cover_template)
    return {
        "templates": [
            {"name": name, "title": _title(path), "default": name == default}
            for name, path in cover_templates(fax.cover_template, fax.cover_templates).items()
        ]
    }
