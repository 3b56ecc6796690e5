"""Which cover page templates a sender may choose, by name.

A template's name is its file name without ``.json``.  On offer: the templates umfax
ships (``templates/*.json``), those in the folder ``[fax] cover_templates`` names, and
the one ``[fax] cover_template`` points to (the default; it wins over a template of the
same name).  A job stores a name (empty: the configured default), so the conversion
worker resolves it when it renders the cover; a name no longer on offer fails the job
with a message naming what is.
"""

from __future__ import annotations

import re
from pathlib import Path

from umfax.conversion.cover import DEFAULT_TEMPLATE, TemplateError

BUILT_IN = DEFAULT_TEMPLATE.parent
#: What a template name may look like (it is a file name, and stored on the job).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class UnknownCoverTemplate(TemplateError):
    """A sender asked for a cover page template the server does not offer."""


def _folder(folder: Path) -> dict[str, Path]:
    try:
        files = sorted(folder.glob("*.json"))
    except OSError:
        return {}
    return {path.stem: path for path in files if NAME.fullmatch(path.stem)}


def cover_templates(configured: Path | None = None, folder: Path | None = None) -> dict[str, Path]:
    """Every template on offer, name -> file, in name order."""
    found = _folder(BUILT_IN)
    if folder is not None:
        found.update(_folder(folder))
    if configured is not None:
        found[configured.stem] = configured
    return dict(sorted(found.items()))


def default_name(configured: Path | None = None) -> str:
    """The name of the template a job without a choice gets."""
    return (configured or DEFAULT_TEMPLATE).stem


def template_path(name: str, configured: Path | None = None, folder: Path | None = None) -> Path | None:
    """The file of template ``name`` ("" or the default's name: the configured default,
    None when that is umfax's own); :class:`UnknownCoverTemplate` if there is no such."""
    if not name or name == default_name(configured):
        return configured
    offered = cover_templates(configured, folder)
    if name not in offered:
        raise UnknownCoverTemplate(
            f"there is no cover page template {name[:64]!r}; choose one of {', '.join(offered)}"
        )
    return offered[name]


__all__ = ["UnknownCoverTemplate", "cover_templates", "default_name", "template_path"]
