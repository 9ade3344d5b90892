"""Charts as inline SVG, drawn on the server: no JavaScript, no build step. Every text is escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from .data import DaySpend

SPEND = "#0f766e"
PREMIUM = "#cbd5e1"
AXIS = "#94a3b8"
INK = "#475569"


def usd(value: float) -> str:
    """Money as people read it: cents above $10, four decimals below (LLM calls are cheap)."""
    if abs(value) >= 10:
        return f"${value:,.2f}"
    return f"${value:,.4f}"


def nice_ceiling(value: float, ticks: int = 4) -> tuple[float, float]:
    """A round axis maximum above ``value`` and its tick step (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return step * ticks, step


def _tick_label(v: float, step: float) -> str:
    """As many decimals as the step needs ($0.25 steps: two, $5 steps: none)."""
    decimals = next((d for d in range(7) if abs(round(step, d) - step) < step * 1e-9), 6)
    return f"${v:,.{decimals}f}"


def spend_chart(days: Sequence[DaySpend], *, width: int = 1160, height: int = 240) -> Markup:
    """Spend per UTC day next to what the premium models would have cost (grouped bars)."""
    left, right, top, bottom = 64, 8, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(d.cost, d.counterfactual) for d in days), default=0.0)
    top_v, step = nice_ceiling(peak)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Spend per day against the premium-only counterfactual" class="chart">'
    ]
    n_ticks = round(top_v / step)
    for i in range(n_ticks + 1):
        v = step * i
        y = top + plot_h - plot_h * v / top_v
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0" stroke-width="1"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="{INK}">'
            f"{escape(_tick_label(v, step))}</text>"
        )
    n = max(1, len(days))
    group = plot_w / n
    bar = max(1.5, min(22.0, group * 0.36))
    label_every = max(1, math.ceil(n / 10))
    for i, d in enumerate(days):
        x0 = left + group * i + (group - 2 * bar - 1) / 2
        for j, (value, color, what) in enumerate(
            ((d.counterfactual, PREMIUM, "premium only"), (d.cost, SPEND, "spend"))
        ):
            h = plot_h * value / top_v
            x = x0 + j * (bar + 1)
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{color}" rx="1">'
                f"<title>{escape(d.day)} {what}: {escape(usd(value))}</title></rect>"
            )
        if i % label_every == 0 or (i == n - 1 and n <= 10):
            cx = left + group * (i + 0.5)
            parts.append(
                f'<text x="{cx:.1f}" y="{height - 10}" text-anchor="middle" font-size="12" fill="{INK}">'
                f"{escape(d.day[5:])}</text>"
            )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{AXIS}"/>')
    if peak <= 0:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="13" '
            f'fill="{INK}">No spend in this period</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def share_bar(parts: Sequence[tuple[str, float, str]], *, width: int = 420, height: int = 26) -> Markup:
    """One horizontal bar split into ``(label, value, colour)`` parts, for shares of a whole."""
    total = sum(v for _, v, _ in parts)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="share" '
        f'aria-label="{escape(", ".join(label for label, _, _ in parts))}" preserveAspectRatio="none">'
        f'<rect x="0" y="0" width="{width}" height="{height}" rx="4" fill="#f1f5f9"/>'
    ]
    x = 0.0
    for label, value, color in parts:
        if total <= 0 or value <= 0:
            continue
        w = width * value / total
        out.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{color}">'
            f"<title>{escape(label)}: {value / total:.1%}</title></rect>"
        )
        x += w
    out.append("</svg>")
    return Markup("".join(out))
