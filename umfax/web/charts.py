"""Server-rendered SVG charts: pure functions from numbers to SVG text (no script).

Each chart is an ``<svg role="img">`` named by its ``<title>`` and described by a
``<desc>`` that states every figure (screen readers read that, not the bars); each bar
carries its own ``<title>`` (a tooltip on hover).  Colours are presentation attributes
(``fill=``), not ``style=``, so the console's Content-Security-Policy allows them, and
stay distinguishable without colour: series also differ in the legend's text and order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

#: Colour-blind-safe (Okabe-Ito) colours for up to four series.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7")
TEXT = "#222"
GRID = "#ccc"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float]


def _number(value: float) -> str:
    if value == int(value) or abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0")


def _axis(peak: float, intervals: int = 4) -> tuple[float, float]:
    """A round step (1, 2, 2.5 or 5 x 10^n) and the axis top (a multiple of it) for values up
    to ``peak``, in about ``intervals`` steps."""
    if peak <= 0:
        return 0.25, 1.0
    rough = peak / intervals
    magnitude = 10.0 ** math.floor(math.log10(rough))
    step = next(f * magnitude for f in (1, 2, 2.5, 5, 10) if f * magnitude >= rough - 1e-12)
    return step, step * max(1, math.ceil(peak / step - 1e-9))


def _frame(ident: str, title: str, description: str, width: int, height: int, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" '
            f'aria-labelledby="{ident}-title {ident}-desc" {FONT}>',
            f'<title id="{ident}-title">{escape(title)}</title>',
            f'<desc id="{ident}-desc">{escape(description)}</desc>',
            *body,
            "</svg>",
        ]
    )


def bar_chart(
    ident: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    label_every: int = 1,
    width: int = 720,
    height: int = 260,
) -> str:
    """Vertical bars, one group per label with a bar per series (e.g. pages sent and
    received per day).  ``label_every``: write every n-th label under the axis."""
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    left, right, top, bottom = 48, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    step, peak = _axis(max((v for s in series for v in s.values), default=0.0))
    body: list[str] = []
    ticks = round(peak / step)
    for tick in range(ticks + 1):  # grid lines and the value axis
        value = step * tick
        y = top + plot_h - plot_h * tick / ticks
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{TEXT}">{_number(value)}</text>'
        )
    group = plot_w / max(1, len(labels))
    bar = group * 0.8 / max(1, len(series))
    for i, label in enumerate(labels):
        x0 = left + group * i + group * 0.1
        for k, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / peak
            tip = f"{label}: {_number(value)} {unit} {s.name}".replace("  ", " ").strip()
            body.append(
                f'<rect x="{x0 + bar * k:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
            )
        if i % label_every == 0:
            body.append(
                f'<text x="{left + group * (i + 0.5):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="{TEXT}">{escape(label)}</text>'
            )
    body.append(_legend(series, left, 16))
    figures = "; ".join(
        f"{label}: " + ", ".join(f"{_number(s.values[i])} {s.name}" for s in series)
        for i, label in enumerate(labels)
    )
    return _frame(ident, title, f"{title}{f' ({unit})' if unit else ''}. {figures}.", width, height, body)


def _legend(series: Sequence[Series], x: int, y: int) -> str:
    parts = []
    for k, s in enumerate(series):
        px = x + 140 * k
        parts.append(
            f'<rect x="{px}" y="{y - 10}" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>'
            f'<text x="{px + 16}" y="{y}" fill="{TEXT}">{escape(s.name)}</text>'
        )
    return "".join(parts)


def horizontal_bar_chart(
    ident: str,
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    width: int = 720,
    row_height: int = 26,
) -> str:
    """One horizontal bar per item, largest first as given (e.g. failures by cause)."""
    left, right, top = 170, 60, 10
    height = top * 2 + row_height * max(1, len(items))
    peak = max((value for _label, value in items), default=0.0) or 1.0
    plot_w = width - left - right
    body: list[str] = []
    if not items:
        body.append(f'<text x="{left}" y="{top + 16}" fill="{TEXT}">nothing to show</text>')
    for i, (label, value) in enumerate(items):
        y = top + row_height * i
        w = plot_w * value / peak
        tip = f"{label}: {_number(value)} {unit}".strip()
        body.append(
            f'<text x="{left - 8}" y="{y + row_height * 0.65:.1f}" text-anchor="end" fill="{TEXT}">'
            f"{escape(label)}</text>"
            f'<rect x="{left}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row_height - 8}" '
            f'fill="{PALETTE[0]}"><title>{escape(tip)}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + row_height * 0.65:.1f}" fill="{TEXT}">'
            f"{_number(value)}</text>"
        )
    figures = "; ".join(f"{label}: {_number(value)}" for label, value in items) or "none"
    return _frame(ident, title, f"{title}{f' ({unit})' if unit else ''}. {figures}.", width, height, body)
