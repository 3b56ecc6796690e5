"""Cover pages drawn from a JSON template (format: ``templates/README.md``)."""

from __future__ import annotations

import datetime as dt
import json
import string
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from umfax.conversion.errors import ConversionError
from umfax.conversion.fonts import FONT_NAMES, font
from umfax.conversion.model import (
    FAX_WIDTH,
    PAPER_MM,
    SCAN_WIDTH_MM,
    X_DPI,
    CoverInfo,
    Paper,
    Resolution,
)
from umfax.conversion.raster import MM_PER_INCH, Gray, frame_rows, render_lines_per_inch
from umfax.errors import describe_error

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "default.json"
FIELDS = ("to_name", "to_company", "to_fax", "to_voice", "from_name", "from_company",
          "from_fax", "from_voice", "subject", "comments", "date", "pages")


class TemplateError(ConversionError):
    """The cover page template is malformed."""


def load_template(path: Path | None) -> dict[str, Any]:
    path = path or DEFAULT_TEMPLATE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(f"the cover page template {path} cannot be read: "
                            f"{exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        error = describe_error(exc)
        raise TemplateError(f"the cover page template {path} is not valid JSON: {error}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("elements"), list):
        raise TemplateError(f"the cover page template {path} needs an \"elements\" list")
    for element in data["elements"]:
        if not isinstance(element, dict) or element.get("type") not in ("text", "rule", "box"):
            raise TemplateError(f"the cover page template {path} has an element that is not "
                                f"text, rule or box: {element!r:.80}")
        text = element.get("text", "")
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(str(text)) if f}
        except ValueError as exc:
            raise TemplateError(f"the cover page template {path} has bad braces in "
                                f"{text!r:.60}: {describe_error(exc)}") from exc
        unknown = names - set(FIELDS)
        if unknown:
            raise TemplateError(f"the cover page template {path} uses unknown field(s) "
                                f"{', '.join(sorted(unknown))}; known: {', '.join(FIELDS)}")
        if element.get("font", "sans") not in FONT_NAMES:
            raise TemplateError(f"the cover page template {path} uses unknown font "
                                f"{element.get('font')!r}; use one of {', '.join(FONT_NAMES)}")
    return data


def cover_fields(info: CoverInfo, pages: int) -> dict[str, str]:
    when = info.date or dt.datetime.now().astimezone()
    values = {name: str(getattr(info, name, "") or "") for name in FIELDS[:10]}
    values["date"] = when.strftime("%d %B %Y, %H:%M")
    values["pages"] = str(pages)
    return values


def _wrap(text: str, face: Any, width_px: float) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        words = para.split(" ")
        cur = ""
        for word in words:
            trial = f"{cur} {word}" if cur else word
            if face.getlength(trial) <= width_px or not cur:
                cur = trial
            else:
                lines.append(cur)
                cur = word
        lines.append(cur)
    return lines


def render_cover(info: CoverInfo, pages: int, paper: Paper, resolution: Resolution,
                 template: Path | None = None) -> Gray:
    """The cover page as a grey frame at the render resolution."""
    data = load_template(template)
    values = cover_fields(info, pages)
    square_rows = round(PAPER_MM[paper][1] / MM_PER_INCH * X_DPI)
    # Drawn on a canvas the paper's width at 204 dpi, then mapped onto the 1728-pixel
    # line like every other page; templates are laid out for 210 mm and centred.
    canvas_w = round(min(PAPER_MM[paper][0], SCAN_WIDTH_MM) / MM_PER_INCH * X_DPI)
    image = Image.new("L", (canvas_w, square_rows), 255)
    draw = ImageDraw.Draw(image)
    x0 = (canvas_w - 210.0 / MM_PER_INCH * X_DPI) / 2

    def px(mm: float) -> float:
        return float(mm) / MM_PER_INCH * X_DPI

    try:
        for el in data["elements"]:
            kind = el["type"]
            if el.get("if") and not values.get(str(el["if"]), ""):
                continue
            if kind == "rule":
                thick = max(1, round(px(float(el.get("width", 0.4)))))
                y = px(el["y"])
                draw.rectangle((x0 + px(el["x"]), y, x0 + px(el["x2"]), y + thick - 1), fill=0)
            elif kind == "box":
                thick = max(1, round(px(float(el.get("width", 0.4)))))
                draw.rectangle((x0 + px(el["x"]), px(el["y"]), x0 + px(el["x"] + el["w"]),
                                px(el["y"] + el["h"])), outline=0, width=thick)
            else:
                text = str(el.get("text", "")).format_map(values)
                if not text.strip():
                    continue
                size = float(el.get("size", 11))
                face = font(str(el.get("font", "sans")), round(size / 72.0 * X_DPI))
                lines = (_wrap(text, face, px(el["wrap"])) if el.get("wrap")
                         else text.split("\n"))
                if el.get("max_lines"):
                    lines = lines[: int(el["max_lines"])]
                step = size / 72.0 * X_DPI * 1.25
                for i, line in enumerate(lines):
                    width = face.getlength(line)
                    x = x0 + px(el["x"])
                    if el.get("align") == "right":
                        x -= width
                    elif el.get("align") == "center":
                        x -= width / 2
                    draw.text((x, px(el["y"]) + i * step), line, font=face, fill=0)
    except (KeyError, TypeError, ValueError) as exc:
        error = describe_error(exc)
        raise TemplateError(f"the cover page template has a malformed element: {error}") from exc
    rows = frame_rows(paper, render_lines_per_inch(resolution))
    if (canvas_w, square_rows) != (FAX_WIDTH, rows):
        image = image.resize((FAX_WIDTH, rows), Image.Resampling.BILINEAR)
    return np.asarray(image)
