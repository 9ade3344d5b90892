"""Server-side SVG charts: axis maths, money formatting, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from switchyard.dashboard.charts import nice_ceiling, share_bar, spend_chart, usd
from switchyard.dashboard.data import DaySpend


@pytest.mark.parametrize(
    ("peak", "top", "step"), [(0.0, 1.0, 0.25), (0.31, 0.4, 0.1), (7.2, 8.0, 2.0), (1234.0, 2000.0, 500.0)]
)
def test_nice_ceiling(peak: float, top: float, step: float) -> None:
    assert nice_ceiling(peak) == pytest.approx((top, step))


def test_usd() -> None:
    assert (usd(0.01234), usd(12.345), usd(1234567.891)) == ("$0.0123", "$12.35", "$1,234,567.89")


def test_charts_are_well_formed_svg_with_escaped_text() -> None:
    days = [DaySpend("2026-11-01", 3, 0.2, 0.5), DaySpend("2026-11-02", 0, 0.0, 0.0)]
    svg = ET.fromstring(str(spend_chart(days)))
    bars = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect")]
    assert len(bars) == 4
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert "2026-11-01 spend: $0.2000" in titles
    bar = str(share_bar([("<b>x</b>", 3, "#000"), ("y", 1, "#fff")]))
    assert "<b>" not in bar and "&lt;b&gt;x&lt;/b&gt;: 75.0%" in bar
    ET.fromstring(bar)
    assert "No spend in this period" in str(spend_chart([DaySpend("2026-11-01", 0, 0.0, 0.0)]))
