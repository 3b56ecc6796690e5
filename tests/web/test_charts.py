"""SVG charts: well-formed, accessible (a title, a description stating every figure, a
title per bar), scaled to a round axis, escaped, and free of inline style."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from umfax.web.charts import Series, _axis, bar_chart, horizontal_bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_a_bar_chart_is_accessible_svg_with_a_bar_per_value() -> None:
    svg = bar_chart(
        "pages",
        "Pages per day",
        ["03-14", "03-15"],
        [Series("sent", [4, 0]), Series("received", [2, 7])],
        unit="pages",
    )
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "pages-title pages-desc"
    assert root.find(f"{SVG}title").text == "Pages per day"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert desc == "Pages per day (pages). 03-14: 4 sent, 2 received; 03-15: 0 sent, 7 received."
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert [r.find(f"{SVG}title").text for r in bars] == [  # type: ignore[union-attr]
        "03-14: 4 pages sent",
        "03-14: 2 pages received",
        "03-15: 0 pages sent",
        "03-15: 7 pages received",
    ]
    tallest = max(float(r.get("height", 0)) for r in bars)
    assert tallest == pytest.approx(192 * 7 / 8, abs=0.1)  # the axis: 0, 2, 4, 6, 8
    assert "style=" not in svg and "<script" not in svg
    with pytest.raises(ValueError):
        bar_chart("x", "x", ["a"], [Series("s", [1, 2])])


def test_a_horizontal_chart_escapes_labels_and_handles_no_data() -> None:
    svg = horizontal_bar_chart("causes", "Failures by cause", [("<busy>", 3), ("no_answer", 1)])
    root = ET.fromstring(svg)
    assert "&lt;busy&gt;" in svg and "<busy>" not in svg
    assert root.find(f"{SVG}desc").text == "Failures by cause. <busy>: 3; no_answer: 1."  # type: ignore[union-attr]
    empty = ET.fromstring(horizontal_bar_chart("none", "Failures", []))
    assert "nothing to show" in "".join(empty.itertext())


@pytest.mark.parametrize(
    ("value", "step", "top"),
    [(0, 0.25, 1), (0.3, 0.1, 0.3), (7, 2, 8), (11, 5, 15), (25, 10, 30), (240, 100, 300), (1000, 250, 1000)],
)
def test_axes_have_round_steps(value: float, step: float, top: float) -> None:
    assert _axis(value) == pytest.approx((step, top))
