"""The analytics page's chart, drawn on the server as inline SVG: no script, no font or
file from elsewhere, the same picture in every browser and in a saved page.

Top: emails sent per day (or week) as bars, with the emails opened and clicked by
people as lines over them. Bottom: conversions per day. Hovering a bar shows that
day's figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from postpurchase.analytics.reports import Figures
from postpurchase.formats import short_date

WIDTH, HEIGHT = 900, 340
LEFT, RIGHT = 48, 12
TOP_Y, TOP_H = 34, 190  # the emails panel
LOW_Y, LOW_H = 262, 48  # the conversions panel
COLORS = {
    "sent": "#c9d8e3",
    "opened": "#2d6a4f",
    "clicked": "#e07a1f",
    "conversions": "#6a4c93",
    "grid": "#e4e4e4",
    "text": "#444",
}
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:11px"


def nice_max(value: int) -> int:
    """The top of an axis: a round number (1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of
    ten) at least ``value``, so the bars fill most of the height."""
    if value <= 0:
        return 1
    magnitude = 1
    while True:
        for step in (1, 1.5, 2, 3, 4, 5, 6, 8):
            top = step * magnitude
            if top >= value and float(top).is_integer():
                return int(top)
        magnitude *= 10


def _label(day: dt.date, bucket: str) -> str:
    text = short_date(day)
    return _("week of %(day)s") % {"day": text} if bucket == "week" else text


def render(series: Sequence[tuple[dt.date, Figures]], bucket: str = "day") -> SafeString:
    """The chart of ``series`` ((first day, figures) per bucket) as an <svg> element."""
    n = max(len(series), 1)
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1)
    top_max = nice_max(max((f.sent for _d, f in series), default=0))
    low_max = nice_max(max((f.conversions for _d, f in series), default=0))

    def y_top(v: int) -> float:
        return TOP_Y + TOP_H - TOP_H * v / top_max

    def y_low(v: int) -> float:
        return LOW_Y + LOW_H - LOW_H * v / low_max

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="pp-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" style="max-width:{WIDTH}px;{FONT}">',
        "<title>{}</title>".format(
            escape(_("Emails sent, opened and clicked, and conversions, over time"))
        ),
    ]
    # Legend.
    x = LEFT
    for key, text in (
        ("sent", _("sent")),
        ("opened", _("opened (people)")),
        ("clicked", _("clicked (people)")),
        ("conversions", _("conversions")),
    ):
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{COLORS[key]}"/>')
        parts.append(f'<text x="{x + 16}" y="18" fill="{COLORS["text"]}">{escape(text)}</text>')
        x += 24 + 7 * len(text)
    # Grid and axes.
    for value, y in ((0, y_top(0)), (top_max // 2, y_top(top_max / 2)), (top_max, y_top(top_max))):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{COLORS["grid"]}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{COLORS["text"]}">'
            f"{value}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y_low(0):.1f}" y2="{y_low(0):.1f}" '
        f'stroke="{COLORS["grid"]}"/>'
    )
    parts.append(
        f'<text x="{LEFT - 6}" y="{y_low(low_max) + 4:.1f}" text-anchor="end" '
        f'fill="{COLORS["text"]}">{low_max}</text>'
    )
    parts.append(
        f'<text x="{LEFT}" y="{LOW_Y - 6}" fill="{COLORS["conversions"]}">'
        f"{escape(_('conversions'))}</text>"
    )
    # Bars, with the day's figures on hover.
    opened_points, clicked_points = [], []
    for i, (day, f) in enumerate(series):
        cx = LEFT + slot * i + slot / 2
        tip = escape(
            _(
                "%(day)s: %(sent)s sent, %(opened)s opened, %(clicked)s clicked, "
                "%(conv)s conversions"
            )
            % {
                "day": _label(day, bucket),
                "sent": f.sent,
                "opened": f.opened,
                "clicked": f.clicked,
                "conv": f.conversions,
            }
        )
        parts.append(f"<g><title>{tip}</title>")
        parts.append(
            f'<rect class="pp-bar" x="{cx - bar_w / 2:.1f}" y="{y_top(f.sent):.1f}" '
            f'width="{bar_w:.1f}" height="{TOP_H * f.sent / top_max:.1f}" fill="{COLORS["sent"]}"/>'
        )
        if f.conversions:
            parts.append(
                f'<rect x="{cx - bar_w / 2:.1f}" y="{y_low(f.conversions):.1f}" '
                f'width="{bar_w:.1f}" height="{LOW_H * f.conversions / low_max:.1f}" '
                f'fill="{COLORS["conversions"]}"/>'
            )
        # An invisible column over the whole height, so hovering anywhere shows the tip.
        parts.append(
            f'<rect x="{cx - slot / 2:.1f}" y="{TOP_Y}" width="{slot:.1f}" '
            f'height="{LOW_Y + LOW_H - TOP_Y}" fill="transparent"/></g>'
        )
        opened_points.append(f"{cx:.1f},{y_top(f.opened):.1f}")
        clicked_points.append(f"{cx:.1f},{y_top(f.clicked):.1f}")
    for key, points in (("opened", opened_points), ("clicked", clicked_points)):
        if points:
            parts.append(
                f'<polyline class="pp-line-{key}" points="{" ".join(points)}" fill="none" '
                f'stroke="{COLORS[key]}" stroke-width="2" stroke-linejoin="round"/>'
            )
    # Dates under the bars: about eight, evenly spread.
    every = max(1, -(-n // 8))
    for i, (day, _f) in enumerate(series):
        if i % every == 0:
            cx = LEFT + slot * i + slot / 2
            parts.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                f'fill="{COLORS["text"]}">{escape(_label(day, bucket))}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  every text in it is escaped above
