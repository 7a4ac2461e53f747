"""Small charts drawn on the server as inline SVG: no script or chart library to ship, they print,
and screen readers read them by their title and description (the numbers are in a table beside
each one as well)."""

from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 480, 160
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 16, 26  # room for the axis labels
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def short_date(value: datetime) -> str:
    """'Nov 24' in the active time zone (the agency's)."""
    local = timezone.localtime(value)
    return f"{local:%b} {local.day}"


def step_chart(
    *,
    chart_id: str,
    steps: list[tuple[datetime, int]],
    start: datetime,
    end: datetime,
    title: str,
    description: str,
    reference: int | None = None,
    reference_label: str = "",
) -> SafeString:
    """A value that holds until it changes (a bed count), from `start` to `end`: `steps` are
    (when it changed, the new value), oldest first; one before `start` gives the value the chart
    opens with. The vertical scale runs from 0 to the largest value or the `reference` (drawn as
    a dashed line: a maximum). Empty when there are no steps."""
    if not steps or end <= start:
        return SafeString("")
    top = max([reference or 0, *(value for _, value in steps)]) or 1
    span = (end - start).total_seconds()

    # Coordinates as text with one decimal: format_html escapes its arguments into strings.
    def x(when: datetime) -> str:
        return (
            f"{LEFT + PLOT_WIDTH * min(1.0, max(0.0, (when - start).total_seconds() / span)):.1f}"
        )

    def y(value: int, shift: float = 0) -> str:
        return f"{TOP + PLOT_HEIGHT * (1 - value / top) + shift:.1f}"

    first_x = x(steps[0][0])
    line = [f"M{first_x} {y(steps[0][1])}"]
    for when, value in steps[1:]:
        line.append(f"H{x(when)} V{y(value)}")
    line.append(f"H{x(end)}")
    path = " ".join(line)
    bottom = TOP + PLOT_HEIGHT
    area = f"{path} V{bottom} H{first_x} Z"
    scale = format_html_join(
        "",
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>',
        ((LEFT - 6, y(value, 4), value) for value in sorted({0, top, reference or 0})),
    )
    reference_line = (
        format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-reference"/>'
            '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>',
            LEFT,
            WIDTH - RIGHT,
            y(reference),
            y(reference),
            WIDTH - RIGHT,
            y(reference, -4),
            reference_label,
        )
        if reference is not None
        else ""
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="chart-baseline"/>'
        '<path d="{}" class="chart-area"/><path d="{}" class="chart-line"/>{}{}'
        '<text x="{}" y="{}" class="chart-axis">{}</text>'
        '<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text></svg>',
        WIDTH,
        HEIGHT,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        LEFT,
        WIDTH - RIGHT,
        bottom,
        bottom,
        area,
        path,
        reference_line,
        scale,
        LEFT,
        HEIGHT - 8,
        short_date(start),
        WIDTH - RIGHT,
        HEIGHT - 8,
        short_date(end),
    )
